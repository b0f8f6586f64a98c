//! The RT engine: everything an RT Server instance *is*, independent of HTTP.
//!
//! This crate knows nothing about dropshot or the wire format: the server crate
//! converts between these domain types and the API's wire types, and maps
//! [`Error`] onto HTTP status codes in one place.
//!
//! # Layout
//!
//! - [`analytics`]: the SecuRT rule engine: tracks in, area and line events out (pure).
//! - [`config_tree`]: the `path`/`jsonValue` operations on an instance's JSON
//!   configuration tree (pure).
//! - [`db`]: the database (SQLite or PostgreSQL): stored events, tracks and
//!   the registry.
//! - [`settings`]: the typed view (name, solution, modes, ...) over the known
//!   keys of that tree, with validation (pure).
//! - [`solutions`]: the solutions this engine can run.
//! - `media` (feature `media`, on by default): the pipeline of a running
//!   instance: GStreamer in, ONNX Runtime detection, tracking, rules, events.
//! - [`onvif`]: ONVIF cameras: WS-Discovery, device information, stream
//!   URIs over SOAP with WS-UsernameToken credentials (no HTTP server side).
//! - [`outputs`]: the video outputs (HLS, RTSP) and overlay preset as stored
//!   in the tree (pure).
//! - [`overlay`]: the `Default` render preset drawn into I420 frames (pure).
//! - [`runtime`]: the seam to the media pipeline: what a running instance
//!   is given ([`runtime::RunContext`]) and reports ([`runtime::RunStats`]).
//! - [`secrets`]: the secret key and credentials sealed at rest
//!   (XChaCha20-Poly1305), and which config tree nodes are secrets (pure).
//! - [`securt`]: SecuRT areas, lines and options as stored in the tree (pure).
//! - [`still`]: pushed still images (JPEG, PNG, BMP) decoded to RGB (pure).
//! - [`store`]: atomic persistence of instances as JSON files.
//! - [`detect`]: the detector's pre- and post-processing (letterbox, input
//!   tensor, NanoDet/YOLO decoders, NMS, COCO -> RT classes) on plain
//!   slices (pure).
//! - [`track`]: the ByteTrack-style multi-object tracker (pure).
//! - [`engine`]: the instance registry and its lifecycle state machine
//!   (`Registered -> Loaded -> Running`), tying the pieces together.
//! - [`events`]: an instance's event bus (numbering, replay ring, live
//!   fan-out, polling queue).
//! - [`handlers`]: MQTT output handlers (`Output/handlers/<name>`): one
//!   broker connection and bounded queue each, reconciled live with the tree.
//! - [`error`]: the crate's one error enum.

pub mod analytics;
pub mod config_tree;
pub mod db;
pub mod detect;
pub mod engine;
pub mod error;
pub mod events;
pub mod handlers;
#[cfg(feature = "media")]
pub mod media;
pub mod metrics;
pub mod onvif;
pub mod outputs;
pub mod overlay;
pub mod runtime;
pub mod secrets;
pub mod securt;
pub mod settings;
pub mod solutions;
pub mod still;
pub mod store;
pub mod track;

pub use engine::{Engine, ErrorRecord, InstanceSnapshot, LifecycleState};
pub use error::Error;
pub use settings::{InputSource, InputType, Settings, SettingsPatch};

/// Version of this engine, reported by `GET /v1/core/version` and as every
/// solution's and instance's `version`.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");
