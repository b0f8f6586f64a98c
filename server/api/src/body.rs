//! [`JsonBody`]: the request body extractor of every JSON operation. RT reads
//! a request body as JSON whatever its `Content-Type` says, so clients send
//! `curl -d '{...}'` (`application/x-www-form-urlencoded`) or a bare browser
//! `fetch` (`text/plain`) and are understood; dropshot's [`TypedBody`] would
//! refuse both with "expected content type". A body that is not valid JSON
//! is still a 400 that says where it fails, given when the handler takes
//! the body: after its own checks (the bearer token's 401 comes first).

use dropshot::{
    ApiEndpointBodyContentType, Body, ExclusiveExtractor, ExtractorMetadata, HttpError,
    RequestContext, ServerContext, TypedBody,
};
use http::header::{CONTENT_TYPE, HeaderValue};
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
        mut request: http::Request<Body>,
    ) -> Result<Self, HttpError> {
        // The body is JSON by the operation's definition; the header only
        // says what the client's tool assumed.
        request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = TypedBody::<T>::from_request(rqctx, request).await;
        Ok(JsonBody(body.map(TypedBody::into_inner)))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        TypedBody::<T>::metadata(content_type)
    }
}
