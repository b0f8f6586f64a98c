//! [`JsonBody`]: the request body extractor of every JSON operation. RT reads
//! a request body as JSON whatever its `Content-Type` says, so clients send
//! `curl -d '{...}'` (`application/x-www-form-urlencoded`) or a bare browser
//! `fetch` (`text/plain`) and are understood; dropshot's [`TypedBody`] would
//! refuse both with "expected content type". A body that is not valid JSON
//! is still a 400 that says where it fails, given when the handler takes
//! the body: after its own checks (the bearer token's 401 comes first).
//!
//! Every JSON body of the API is an object. serde would also read a struct
//! from an array of its fields in order (`[null, null]` as an instance's
//! settings), so an array body is refused first, with a 400 that says so.

use dropshot::{
    ApiEndpointBodyContentType, Body, ExclusiveExtractor, ExtractorMetadata, HttpError,
    RequestContext, ServerContext, TypedBody, UntypedBody,
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`, read whatever the `Content-Type`.
///
/// It documents itself exactly as `TypedBody<T>` does (an `application/json`
/// body with `T`'s schema), so the contract and the drift test see no
/// difference.
#[derive(Debug)]
pub struct JsonBody<T>(Result<T, HttpError>);

impl<T> JsonBody<T> {
    /// The body, or the 400 that says why it is not a `T`.
    pub fn into_inner(self) -> Result<T, HttpError> {
        self.0
    }
}

#[async_trait::async_trait]
impl<T> ExclusiveExtractor for JsonBody<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
        request: http::Request<Body>,
    ) -> Result<Self, HttpError> {
        // The body is JSON by the operation's definition; the header only
        // says what the client's tool assumed. The size limit is dropshot's.
        let body = UntypedBody::from_request(rqctx, request).await;
        Ok(JsonBody(body.and_then(|body| parse(body.as_bytes()))))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        TypedBody::<T>::metadata(content_type)
    }
}

/// `bytes` as a `T`, with dropshot's message for JSON errors (the path of
/// the field at fault first).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let bad = |message: String| {
        HttpError::for_bad_request(None, format!("unable to parse JSON body: {message}"))
    };
    // serde refuses the other non-objects itself ("invalid type: null,
    // expected struct ...").
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(bad("expected a JSON object, got an array".into()));
    }
    let json = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(json).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        name: Option<String>,
        enabled: Option<bool>,
    }

    #[test]
    fn only_an_object_is_a_body() {
        assert!(parse::<Settings>(b" {\"name\": \"a\"}").is_ok());
        for (body, what) in [
            (&b" [null, null]"[..], "expected a JSON object, got an array"),
            (b"\"text\"", "invalid type: string"),
            (b"null", "invalid type: null"),
            (b"", "EOF while parsing"),
            (b"{\"enabled\": 3}", "enabled: invalid type: integer `3`, expected a boolean"),
        ] {
            let e = parse::<Settings>(body).unwrap_err();
            assert!(e.external_message.contains(what), "{body:?}: {}", e.external_message);
        }
    }
}
