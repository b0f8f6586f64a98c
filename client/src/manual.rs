//! The contract operations progenitor cannot generate (`LEFT_OUT` in
//! `build.rs`), written by hand on [`Client`] with the generated
//! operations' conventions: the same [`Error`] type, the contract's error
//! statuses as [`Error::ErrorResponse`], anything undocumented as
//! [`Error::UnexpectedResponse`].

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use uuid::Uuid;

use crate::{Client, ClientInfo, Error, ResponseValue, types};

/// The codec of pushed access units (`codecId` in `push_encoded_frame`'s path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264 / AVC, Annex B byte stream.
    H264,
    /// H.265 / HEVC, Annex B byte stream.
    H265,
}

impl Codec {
    /// The path segment: `h264` or `h265`.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        }
    }
}

/// What `set_output_hls` did: its two success answers.
#[derive(Debug, Clone)]
pub enum HlsOutput {
    /// 200: enabled; the playlist is (or will be, once the instance runs) at `uri`.
    Enabled(types::OutputHlsEnabled),
    /// 204: disabled; the playlist and its segments are gone.
    Disabled,
}

/// The error statuses the hand-written operations document (all carry `Error`).
const DOCUMENTED_ERRORS: &[u16] = &[400, 403, 404, 409, 500];

impl Client {
    /// Push one compressed image (JPEG, PNG or BMP) to an instance whose
    /// input type is `Manual` (`POST /v1/core/instance/{instanceId}/push/compressed`).
    ///
    /// `timestamp_ms` is the capture time in milliseconds since the Unix
    /// epoch (events carry it); the server uses the arrival time when it is
    /// `None`. 204 when accepted; 404 for an unknown instance; 409 when the
    /// instance is not running, its input is not `Manual`, or its queue is
    /// full (push again later), before the image is decoded; 400 when the
    /// image cannot be decoded or is too large.
    pub async fn push_compressed_frame(
        &self,
        instance_id: &Uuid,
        frame: impl Into<Bytes>,
        timestamp_ms: Option<i64>,
    ) -> Result<ResponseValue<()>, Error<types::Error>> {
        let path = format!("/v1/core/instance/{instance_id}/push/compressed");
        self.push_frame(path, frame.into(), timestamp_ms).await
    }

    /// Push one encoded access unit (Annex B) of `codec` to an instance whose
    /// input type is `Manual` (`POST /v1/core/instance/{instanceId}/push/encoded/{codecId}`).
    ///
    /// Push in decoding order, starting with a key frame that carries its
    /// parameter sets. `timestamp_ms` and the answers are as for
    /// [`Client::push_compressed_frame`].
    pub async fn push_encoded_frame(
        &self,
        instance_id: &Uuid,
        codec: Codec,
        frame: impl Into<Bytes>,
        timestamp_ms: Option<i64>,
    ) -> Result<ResponseValue<()>, Error<types::Error>> {
        let path = format!("/v1/core/instance/{instance_id}/push/encoded/{}", codec.as_str());
        self.push_frame(path, frame.into(), timestamp_ms).await
    }

    /// Enable or disable the HLS output of an instance
    /// (`POST /v1/core/instance/{instanceId}/output/hls`).
    ///
    /// Enabling answers [`HlsOutput::Enabled`] with the playlist URI;
    /// disabling answers [`HlsOutput::Disabled`] and removes the playlist.
    /// 400 for an invalid body, 403 for a read-only or system instance, 404
    /// for an unknown instance.
    pub async fn set_output_hls(
        &self,
        instance_id: &Uuid,
        body: &types::OutputHlsWrite,
    ) -> Result<ResponseValue<HlsOutput>, Error<types::Error>> {
        let url = self.url(&format!("/v1/core/instance/{instance_id}/output/hls"));
        let response = self.execute(self.client.post(url).json(body)).await?;
        match response.status().as_u16() {
            200 => ResponseValue::<types::OutputHlsEnabled>::from_response(response)
                .await?
                .map(HlsOutput::Enabled),
            204 => Ok(ResponseValue::new(
                HlsOutput::Disabled,
                response.status(),
                response.headers().clone(),
            )),
            _ => Err(error_response(response).await),
        }
    }

    async fn push_frame(
        &self,
        path: String,
        frame: Bytes,
        timestamp_ms: Option<i64>,
    ) -> Result<ResponseValue<()>, Error<types::Error>> {
        let mut form = Form::new().part("frame", Part::stream(frame).file_name("frame"));
        if let Some(ms) = timestamp_ms {
            form = form.text("timestamp", ms.to_string());
        }
        let response = self.execute(self.client.post(self.url(&path)).multipart(form)).await?;
        match response.status().as_u16() {
            204 => Ok(ResponseValue::empty(response)),
            _ => Err(error_response(response).await),
        }
    }

    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.baseurl.trim_end_matches('/'))
    }

    /// Sends `request` with the headers every generated operation sends.
    async fn execute(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error<types::Error>> {
        let request = request
            .header(reqwest::header::ACCEPT, "application/json")
            .header("api-version", <Self as ClientInfo<()>>::api_version())
            .build()
            .map_err(|e| Error::InvalidRequest(e.to_string()))?;
        self.client.execute(request).await.map_err(Error::CommunicationError)
    }
}

/// A non-success answer as the generated operations report it.
async fn error_response(response: reqwest::Response) -> Error<types::Error> {
    if !DOCUMENTED_ERRORS.contains(&response.status().as_u16()) {
        return Error::UnexpectedResponse(response);
    }
    match ResponseValue::from_response(response).await {
        Ok(value) => Error::ErrorResponse(value),
        Err(e) => e,
    }
}
