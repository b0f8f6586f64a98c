//! Wire types of the `/v1/onvif` namespace: discovered cameras, their
//! streams and the credentials stored for them. No type here ever carries a
//! password out of the server: [`OnvifCredentials`] is only read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `{cameraId}`: a discovered camera's `uuid` or its `address`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CameraPath {
    pub camera_id: String,
}

/// `POST /v1/onvif/discover?timeout=`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DiscoverQuery {
    /// Seconds to wait for Probe answers (1-30, default 5).
    #[serde(default)]
    pub timeout: Option<u32>,
}

/// `Ok`: device information read. `Unauthorized`: credentials missing or
/// refused. `Unknown`: unreachable, or the answer was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OnvifDeviceState {
    Ok,
    Unauthorized,
    Unknown,
}

/// A discovered ONVIF device. Device information fields are absent until
/// the device has answered. The password is never returned.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnvifCamera {
    /// Device endpoint reference from WS-Discovery (e.g. `urn:uuid:...`).
    pub uuid: String,
    /// IP address or host name of the device.
    pub address: String,
    /// URL of the device service.
    pub xaddr: String,
    /// Name from the device's ONVIF scopes; empty when it has none.
    pub name: String,
    pub scopes: Vec<String>,
    pub state: OnvifDeviceState,
    /// Detail of a state other than `Ok` (timeout, SOAP fault, wrong
    /// credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_id: Option<String>,
    /// User name of the stored credentials, when there are some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether credentials are stored for the device.
    pub has_credentials: bool,
}

/// One media profile of a camera and its RTSP stream.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OnvifStream {
    /// Media profile token.
    pub token: String,
    /// Media profile name.
    pub name: String,
    pub width: i32,
    pub height: i32,
    pub fps: f64,
    /// Video encoding as the camera names it (`H264`, `H265`, `JPEG`, ...).
    pub codec: String,
    /// RTSP URI of the stream, without credentials (they are never
    /// returned).
    pub uri: String,
}

/// A camera's user name and password. `Debug` hides the password.
#[derive(Deserialize, JsonSchema)]
pub struct OnvifCredentials {
    pub username: String,
    #[schemars(schema_with = "password")]
    pub password: String,
}

impl std::fmt::Debug for OnvifCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnvifCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Schema of a password string (`format: password`).
fn password(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
    schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        format: Some("password".into()),
        ..Default::default()
    }
    .into()
}
