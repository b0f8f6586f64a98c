//! The RT Server REST API as a dropshot API trait, with its wire types.
//!
//! `openapi/openapi.yaml` is the contract; this crate is the code-side copy
//! of the operations the server serves today. The drift test
//! (`tests/drift.rs`) renders [`rt_api_mod::stub_api_description`] and holds
//! it to the contract, so the two cannot disagree silently.
//!
//! This crate depends on dropshot, serde, schemars and uuid only: the
//! contract and the drift test build without the engine.
//!
//! Every JSON body is a [`JsonBody`], read as JSON whatever its
//! `Content-Type` says, as RT does.
//!
//! # Layout
//!
//! - [`core`]: wire types of the `/v1/core` namespace.
//! - [`securt`]: wire types of the `/v1/securt` namespace.
//! - [`database`]: wire types of the `/v1/database` namespace.
//! - [`onvif`]: wire types of the `/v1/onvif` namespace.
//! - [`registry`]: wire types of the `/v1/rtregistry` namespace.
//! - [`RtApi`]: the endpoints, one trait method per contract operation
//!   (the method name is the contract's `operationId`).

mod body;
pub mod core;
pub mod database;
pub mod onvif;
pub mod registry;
pub mod securt;

pub use body::JsonBody;

use dropshot::{
    Body, Header, HttpError, HttpResponseCreated, HttpResponseDeleted, HttpResponseOk,
    HttpResponseUpdatedNoContent, MultipartBody, Path, Query, RequestContext, UntypedBody,
};

use crate::core::*;
use crate::database::*;
use crate::onvif::*;
use crate::registry::*;
use crate::securt::*;

/// Largest request body accepted by any operation (bytes). RT config writes
/// carry whole JSON documents (handlers, area lists), well above dropshot's
/// 1 KiB default, but nothing legitimate comes near this.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// Largest pushed frame (bytes): a 4K JPEG is a few MiB.
pub const MAX_PUSHED_FRAME_BYTES: usize = 32 * 1024 * 1024;

/// The RT Server API. Implemented by `rt-server`.
#[dropshot::api_description]
pub trait RtApi {
    type Context: Send + Sync + 'static;

    /// Engine version; also the health probe.
    #[endpoint { method = GET, path = "/v1/core/version", tags = ["core"] }]
    async fn get_version(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Version>, HttpError>;

    /// Lists every instance.
    #[endpoint { method = GET, path = "/v1/core/instances", tags = ["core"] }]
    async fn list_instances(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<InstanceList>, HttpError>;

    /// Creates an instance with a server-generated id.
    #[endpoint { method = POST, path = "/v1/core/instance", tags = ["core"] }]
    async fn create_instance(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<InstanceWrite>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError>;

    /// Creates an instance with the id given in the path.
    #[endpoint { method = PUT, path = "/v1/core/instance/{instanceId}", tags = ["core"] }]
    async fn create_instance_with_id(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<InstanceWrite>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError>;

    /// Reads one instance.
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}", tags = ["core"] }]
    async fn get_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<InstanceRead>, HttpError>;

    /// Updates the settings given in the body.
    #[endpoint { method = PATCH, path = "/v1/core/instance/{instanceId}", tags = ["core"] }]
    async fn update_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<InstanceWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Deletes an instance (stopping it first).
    #[endpoint { method = DELETE, path = "/v1/core/instance/{instanceId}", tags = ["core"] }]
    async fn delete_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Registered -> Loaded.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/load", tags = ["core"] }]
    async fn load_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Loaded or Running -> Registered.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/unload", tags = ["core"] }]
    async fn unload_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Registered or Loaded -> Running.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/start", tags = ["core"] }]
    async fn start_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Running -> Loaded.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/stop", tags = ["core"] }]
    async fn stop_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Stop and start a running instance.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/restart", tags = ["core"] }]
    async fn restart_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// The instance's whole config tree.
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/config", tags = ["core"] }]
    async fn get_instance_config(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<ConfigTree>, HttpError>;

    /// Writes one node of the config tree.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/config", tags = ["core"] }]
    async fn set_instance_config(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<ConfigValueWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// The runtime state tree (loaded or running instances only).
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/state", tags = ["core"] }]
    async fn get_instance_state(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<ConfigTree>, HttpError>;

    /// Writes one node of the runtime state tree.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/state", tags = ["core"] }]
    async fn set_instance_state(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<ConfigValueWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Sets the instance's video source.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/input", tags = ["core"] }]
    async fn set_instance_input(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<InputWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// The instance's last error.
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/error", tags = ["core"] }]
    async fn get_instance_error(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<LastError>, HttpError>;

    /// The live event stream (Server-Sent Events).
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/consume_events_sse", tags = ["core"] }]
    async fn consume_events_sse(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        headers: Header<SseHeaders>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// The live view: the processed frames as Motion JPEG.
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/mjpeg", tags = ["core"] }]
    async fn get_instance_mjpeg(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Takes the queued events (polling).
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/consume_events", tags = ["core"] }]
    async fn consume_events(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<Vec<ConsumedEvent>>, HttpError>;

    /// The last processed frame as base64 JPEG.
    #[endpoint { method = GET, path = "/v1/core/instance/{instanceId}/frame", tags = ["core"] }]
    async fn get_frame(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<Frame>, HttpError>;

    /// Publishes tentative tracks too (or not).
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/tentative_tracks", tags = ["core"] }]
    async fn set_tentative_tracks(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<EnabledWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Enables or disables the RTSP re-stream.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/output/rtsp", tags = ["core"] }]
    async fn set_output_rtsp(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<OutputRtspWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Enables (200 with the playlist URI) or disables (204) HLS.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/output/hls", tags = ["core"] }]
    async fn set_output_hls(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<OutputHlsWrite>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Chooses the overlay drawn on output video.
    #[endpoint { method = POST, path = "/v1/core/instance/{instanceId}/render_preset", tags = ["core"] }]
    async fn set_render_preset(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<RenderPresetWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Pushes one image (JPEG, PNG, BMP) to a `Manual` input.
    #[endpoint {
        method = POST,
        path = "/v1/core/instance/{instanceId}/push/compressed",
        tags = ["core"],
        content_type = "multipart/form-data",
        request_body_max_bytes = MAX_PUSHED_FRAME_BYTES,
    }]
    async fn push_compressed_frame(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: MultipartBody,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Pushes encoded H.264/H.265 access units to a `Manual` input.
    #[endpoint {
        method = POST,
        path = "/v1/core/instance/{instanceId}/push/encoded/{codecId}",
        tags = ["core"],
        content_type = "multipart/form-data",
        request_body_max_bytes = MAX_PUSHED_FRAME_BYTES,
    }]
    async fn push_encoded_frame(
        rqctx: RequestContext<Self::Context>,
        path: Path<EncodedPushPath>,
        body: MultipartBody,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Solutions this server can run.
    #[endpoint { method = GET, path = "/v1/core/solutions", tags = ["core"] }]
    async fn list_solutions(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<SolutionList>, HttpError>;

    /// Installed licenses.
    #[endpoint { method = GET, path = "/v1/core/licenses", tags = ["core"] }]
    async fn get_licenses(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<LicenseList>, HttpError>;

    /// Tail of the server's own log.
    #[endpoint { method = GET, path = "/v1/core/log", tags = ["core"] }]
    async fn get_log(
        rqctx: RequestContext<Self::Context>,
        query: Query<LogQuery>,
    ) -> Result<HttpResponseOk<LogTail>, HttpError>;

    /// Host and software facts.
    #[endpoint { method = GET, path = "/v1/core/system/info", tags = ["core"] }]
    async fn get_system_info(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<SystemInfo>, HttpError>;

    /// Server settings (rtconfig.json) as editable entities.
    #[endpoint { method = GET, path = "/v1/core/system/config", tags = ["core"] }]
    async fn get_system_config(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<SystemConfig>, HttpError>;

    /// Changes server settings.
    #[endpoint { method = PUT, path = "/v1/core/system/config", tags = ["core"] }]
    async fn update_system_config(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<SystemConfigUpdate>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Stops the server gracefully.
    #[endpoint { method = POST, path = "/v1/core/system/shutdown", tags = ["core"] }]
    async fn shutdown_system(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// The server's last error.
    #[endpoint { method = GET, path = "/v1/core/error", tags = ["core"] }]
    async fn get_last_error(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<LastError>, HttpError>;

    /// The contract itself, as YAML.
    #[endpoint { method = GET, path = "/openapi.yaml", tags = ["files"] }]
    async fn get_openapi(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// An HLS playlist or segment.
    #[endpoint { method = GET, path = "/hls/{file}", tags = ["files"] }]
    async fn get_hls_file(
        rqctx: RequestContext<Self::Context>,
        path: Path<HlsFilePath>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Opens a browser session: a cookie that stands in for the bearer token
    /// on reads.
    #[endpoint { method = POST, path = "/v1/session", tags = ["core"] }]
    async fn create_session(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Ends the browser session of the request's cookie.
    #[endpoint { method = DELETE, path = "/v1/session", tags = ["core"] }]
    async fn delete_session(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// The server's metrics, in the OpenMetrics text format.
    #[endpoint { method = GET, path = "/metrics", tags = ["files"] }]
    async fn get_metrics(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// The web panel (`/`). A page, not API: left out of the contract.
    #[endpoint { method = GET, path = "/", tags = ["files"], unpublished = true }]
    async fn get_panel(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// The interactive API docs (`/docs`). A page, not API.
    #[endpoint { method = GET, path = "/docs", tags = ["files"], unpublished = true }]
    async fn get_docs(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// The files of the panel and the docs (`/ui/...`). Not API.
    #[endpoint { method = GET, path = "/ui/{path:.*}", tags = ["files"], unpublished = true }]
    async fn get_panel_file(
        rqctx: RequestContext<Self::Context>,
        path: Path<PanelFilePath>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Creates a SecuRT instance.
    #[endpoint { method = POST, path = "/v1/securt/instance", tags = ["securt"] }]
    async fn securt_create_instance(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<SecuRTInstanceCreate>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError>;

    /// Creates a SecuRT instance with the id in the path.
    #[endpoint { method = PUT, path = "/v1/securt/instance/{instanceId}", tags = ["securt"] }]
    async fn securt_create_instance_with_id(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<SecuRTInstanceCreate>,
    ) -> Result<HttpResponseCreated<InstanceCreated>, HttpError>;

    /// Reads a SecuRT instance.
    #[endpoint { method = GET, path = "/v1/securt/instance/{instanceId}", tags = ["securt"] }]
    async fn securt_get_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<SecuRTInstanceRead>, HttpError>;

    /// Updates a SecuRT instance's settings.
    #[endpoint { method = PATCH, path = "/v1/securt/instance/{instanceId}", tags = ["securt"] }]
    async fn securt_update_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<SecuRTInstanceWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Deletes a SecuRT instance.
    #[endpoint { method = DELETE, path = "/v1/securt/instance/{instanceId}", tags = ["securt"] }]
    async fn securt_delete_instance(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Processing statistics and per-rule counters.
    #[endpoint { method = GET, path = "/v1/securt/instance/{instanceId}/stats", tags = ["securt"] }]
    async fn securt_get_stats(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<SecuRTStats>, HttpError>;

    /// Every area and line, by type.
    #[endpoint { method = GET, path = "/v1/securt/instance/{instanceId}/analytics_entities", tags = ["securt"] }]
    async fn securt_get_analytics_entities(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<AnalyticsEntities>, HttpError>;

    /// Sets the motion (processing) area.
    #[endpoint { method = POST, path = "/v1/securt/instance/{instanceId}/motion_area", tags = ["securt"] }]
    async fn securt_set_motion_area(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<MotionAreaWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Replaces the exclusion areas.
    #[endpoint { method = POST, path = "/v1/securt/instance/{instanceId}/exclusion_areas", tags = ["securt"] }]
    async fn securt_set_exclusion_areas(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<ExclusionAreasWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Sets the appearance search mode.
    #[endpoint { method = POST, path = "/v1/securt/instance/{instanceId}/appearance_search", tags = ["securt"] }]
    async fn securt_set_appearance_search(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
        body: JsonBody<AppearanceSearchWrite>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Every area, by type.
    #[endpoint { method = GET, path = "/v1/securt/instance/{instanceId}/areas", tags = ["securt"] }]
    async fn securt_list_areas(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<AreaList>, HttpError>;

    /// Deletes every area.
    #[endpoint { method = DELETE, path = "/v1/securt/instance/{instanceId}/areas", tags = ["securt"] }]
    async fn securt_delete_areas(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Every line, by type.
    #[endpoint { method = GET, path = "/v1/securt/instance/{instanceId}/lines", tags = ["securt"] }]
    async fn securt_list_lines(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseOk<LineList>, HttpError>;

    /// Deletes every line.
    #[endpoint { method = DELETE, path = "/v1/securt/instance/{instanceId}/lines", tags = ["securt"] }]
    async fn securt_delete_lines(
        rqctx: RequestContext<Self::Context>,
        path: Path<InstancePath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Creates an area of the type named by `areaRef` (contract: one
    /// operation per type, `securt_create_area_<type>`).
    #[endpoint { method = POST, path = "/v1/securt/instance/{instanceId}/area/{areaRef}", tags = ["securt"] }]
    async fn securt_create_area(
        rqctx: RequestContext<Self::Context>,
        path: Path<AreaRefPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<AreaCreated>, HttpError>;

    /// Creates an area of type `areaRef` with id `areaId`.
    #[endpoint { method = PUT, path = "/v1/securt/instance/{instanceId}/area/{areaRef}/{areaId}", tags = ["securt"] }]
    async fn securt_create_area_with_id(
        rqctx: RequestContext<Self::Context>,
        path: Path<AreaRefIdPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<AreaCreated>, HttpError>;

    /// Deletes the area whose id is `areaRef` (contract: `{areaId}`).
    #[endpoint { method = DELETE, path = "/v1/securt/instance/{instanceId}/area/{areaRef}", tags = ["securt"] }]
    async fn securt_delete_area(
        rqctx: RequestContext<Self::Context>,
        path: Path<AreaRefPath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Creates a line of the type named by `lineRef`.
    #[endpoint { method = POST, path = "/v1/securt/instance/{instanceId}/line/{lineRef}", tags = ["securt"] }]
    async fn securt_create_line(
        rqctx: RequestContext<Self::Context>,
        path: Path<LineRefPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<LineCreated>, HttpError>;

    /// Creates a line of type `lineRef` with id `lineId`.
    #[endpoint { method = PUT, path = "/v1/securt/instance/{instanceId}/line/{lineRef}/{lineId}", tags = ["securt"] }]
    async fn securt_create_line_with_id(
        rqctx: RequestContext<Self::Context>,
        path: Path<LineRefIdPath>,
        body: JsonBody<EntityWrite>,
    ) -> Result<HttpResponseCreated<LineCreated>, HttpError>;

    /// Deletes the line whose id is `lineRef` (contract: `{lineId}`).
    #[endpoint { method = DELETE, path = "/v1/securt/instance/{instanceId}/line/{lineRef}", tags = ["securt"] }]
    async fn securt_delete_line(
        rqctx: RequestContext<Self::Context>,
        path: Path<LineRefPath>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Sends a WS-Discovery Probe, collects answers for `timeout` seconds
    /// (1-30, default 5), then reads each found camera's information.
    #[endpoint { method = POST, path = "/v1/onvif/discover", tags = ["onvif"] }]
    async fn onvif_discover(
        rqctx: RequestContext<Self::Context>,
        query: Query<DiscoverQuery>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// Every camera found by discovery, with its state. Passwords are never
    /// returned.
    #[endpoint { method = GET, path = "/v1/onvif/cameras", tags = ["onvif"] }]
    async fn onvif_list_cameras(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Vec<OnvifCamera>>, HttpError>;

    /// The camera's media profiles with resolution, frame rate, codec and
    /// RTSP URI (without credentials).
    #[endpoint { method = GET, path = "/v1/onvif/streams/{cameraId}", tags = ["onvif"] }]
    async fn onvif_get_streams(
        rqctx: RequestContext<Self::Context>,
        path: Path<CameraPath>,
    ) -> Result<HttpResponseOk<Vec<OnvifStream>>, HttpError>;

    /// Stores the camera's credentials (used as a WS-UsernameToken digest)
    /// and re-reads its device information.
    #[endpoint { method = POST, path = "/v1/onvif/camera/{cameraId}/credentials", tags = ["onvif"] }]
    async fn onvif_set_credentials(
        rqctx: RequestContext<Self::Context>,
        path: Path<CameraPath>,
        body: JsonBody<OnvifCredentials>,
    ) -> Result<HttpResponseUpdatedNoContent, HttpError>;

    /// The keys of the registry, sorted, optionally only those starting
    /// with `prefix`. Expired keys are not listed.
    #[endpoint { method = GET, path = "/v1/rtregistry", tags = ["registry"] }]
    async fn registry_list(
        rqctx: RequestContext<Self::Context>,
        query: Query<RegistryPrefix>,
    ) -> Result<HttpResponseOk<RegistryKeyList>, HttpError>;

    /// The JSON value stored under `key`, with its `ETag`.
    ///
    /// Keys may contain `/`: dropshot serves that only through a wildcard
    /// route, which it will not publish, so the drift test maps this
    /// operation by hand (see `tests/drift.rs`). dropshot's router also
    /// sends `GET /v1/rtregistry` here (an empty key), so this answers the
    /// key list then, with `prefix`, as `registry_list` does.
    #[endpoint { method = GET, path = "/v1/rtregistry/{key:.*}", tags = ["registry"], unpublished = true }]
    async fn registry_get(
        rqctx: RequestContext<Self::Context>,
        path: Path<RegistryKeyPath>,
        query: Query<RegistryPrefix>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Stores any JSON value under `key` (`ttl` seconds, `If-Match`).
    #[endpoint {
        method = PUT,
        path = "/v1/rtregistry/{key:.*}",
        tags = ["registry"],
        unpublished = true,
    }]
    async fn registry_put(
        rqctx: RequestContext<Self::Context>,
        path: Path<RegistryKeyPath>,
        query: Query<RegistryPutQuery>,
        headers: Header<IfMatchHeader>,
        body: UntypedBody,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Removes `key` (`If-Match` makes it conditional).
    #[endpoint {
        method = DELETE,
        path = "/v1/rtregistry/{key:.*}",
        tags = ["registry"],
        unpublished = true,
    }]
    async fn registry_delete(
        rqctx: RequestContext<Self::Context>,
        path: Path<RegistryKeyPath>,
        headers: Header<IfMatchHeader>,
    ) -> Result<HttpResponseDeleted, HttpError>;

    /// Registry changes as Server-Sent Events (`set`, `delete`, `expire`).
    #[endpoint { method = GET, path = "/v1/rtregistry_watch", tags = ["registry"] }]
    async fn registry_watch(
        rqctx: RequestContext<Self::Context>,
        query: Query<RegistryPrefix>,
        headers: Header<SseHeaders>,
    ) -> Result<http::Response<Body>, HttpError>;

    /// Stored analytics events, newest first by default; page with `limit`
    /// + `offset` or the `afterId` cursor.
    #[endpoint { method = POST, path = "/v1/database/events", tags = ["database"] }]
    async fn database_query_events(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<EventsQuery>,
    ) -> Result<HttpResponseOk<EventsResult>, HttpError>;

    /// Subsampled track positions, oldest first by default.
    #[endpoint { method = POST, path = "/v1/database/tracks", tags = ["database"] }]
    async fn database_query_tracks(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<TracksQuery>,
    ) -> Result<HttpResponseOk<TracksResult>, HttpError>;

    /// Metrics over stored events, grouped by columns and time buckets.
    #[endpoint { method = POST, path = "/v1/database/analytics", tags = ["database"] }]
    async fn database_query_analytics(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<AnalyticsQuery>,
    ) -> Result<HttpResponseOk<AnalyticsResult>, HttpError>;
}
