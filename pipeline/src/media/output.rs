//! The video outputs of a running instance: the processed frames (full
//! size, overlay drawn once) re-encoded to H.264 for HLS and RTSP.
//!
//! Each output is a small GStreamer pipeline fed through an `appsrc`,
//! created on the first frame after it is enabled (the frame size is known
//! then) and torn down when disabled or when the instance stops. HLS
//! writes `<instanceId>.m3u8` and `<instanceId>-<n>.ts` into the HLS
//! directory, which the HTTP server serves; they are deleted with the
//! output.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tracing::{info, warn};
use uuid::Uuid;

use super::error::{GstError, OutputError};
use super::rtsp_out::ServedStream;
use super::source::{YuvFrame, element};
use crate::outputs::{OutputConfig, RtspTarget};

/// Seconds per HLS segment (segments cut at the next key frame after it).
const HLS_SEGMENT_S: u32 = 1;
/// Segments listed in the playlist and kept on disk.
const HLS_SEGMENTS: u32 = 6;

/// One encoding pipeline fed frames through its `appsrc`.
struct Encoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    size: (u32, u32),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("size", &self.size).finish()
    }
}

impl Encoder {
    /// `appsrc ! videoconvert ! x264enc ! h264parse ! <tail>`.
    fn new(size: (u32, u32), tail: Vec<gst::Element>) -> Result<Encoder, GstError> {
        super::source::init()?;
        let pipeline = gst::Pipeline::new();
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", size.0 as i32)
            .field("height", size.1 as i32)
            .field("framerate", gst::Fraction::new(0, 1))
            .build();
        let src = gst_app::AppSrc::builder()
            .caps(&caps)
            .is_live(true)
            .format(gst::Format::Time)
            .do_timestamp(true)
            .max_bytes(64 << 20)
            .build();
        let convert = element("videoconvert")?;
        let enc = element("x264enc")?;
        enc.set_property_from_str("tune", "zerolatency");
        enc.set_property_from_str("speed-preset", "ultrafast");
        enc.set_property("key-int-max", 10u32);
        let profile = element("capsfilter")?;
        profile.set_property(
            "caps",
            gst::Caps::builder("video/x-h264").field("profile", "main").build(),
        );
        let parse = element("h264parse")?;
        let mut chain: Vec<gst::Element> = vec![src.clone().upcast(), convert, enc, profile, parse];
        chain.extend(tail);
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        pipeline.set_state(gst::State::Playing).map_err(GstError::Start)?;
        Ok(Encoder { pipeline, src, size })
    }

    fn push(&self, frame: &YuvFrame) -> Result<(), OutputError> {
        let buffer = gst::Buffer::from_slice(frame.data.clone());
        self.src.push_buffer(buffer).map(|_| ()).map_err(OutputError::Push)?;
        // Errors of the encoding pipeline surface here, at the next frame.
        if let Some(bus) = self.pipeline.bus()
            && let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            return Err(OutputError::Encoder(e.error().to_string()));
        }
        Ok(())
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.src.end_of_stream();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// An RTSP output: served here, or published to another server.
#[derive(Debug)]
enum RtspOut {
    Served(ServedStream),
    Published(Encoder),
}

impl RtspOut {
    fn start(target: &RtspTarget, size: (u32, u32)) -> Result<RtspOut, OutputError> {
        if target.served_here() || is_local_address(&target.host) {
            return Ok(RtspOut::Served(ServedStream::mount(target, size)?));
        }
        let sink = element("rtspclientsink")?;
        sink.set_property("location", target.uri.as_str());
        sink.set_property_from_str("protocols", "tcp");
        info!(uri = %target.uri, "RTSP output publishing");
        Ok(RtspOut::Published(Encoder::new(size, vec![sink])?))
    }

    fn size(&self) -> (u32, u32) {
        match self {
            RtspOut::Served(s) => s.size(),
            RtspOut::Published(e) => e.size,
        }
    }

    fn push(&self, frame: &YuvFrame) -> Result<(), OutputError> {
        match self {
            RtspOut::Served(s) => {
                s.push(frame);
                Ok(())
            }
            RtspOut::Published(e) => e.push(frame),
        }
    }
}

/// The outputs of one running instance.
#[derive(Debug)]
pub struct Outputs {
    id: Uuid,
    hls_dir: PathBuf,
    config: OutputConfig,
    hls: Option<Encoder>,
    /// Whether files this run wrote are on disk (to delete at the end).
    hls_written: bool,
    rtsp: Option<RtspOut>,
    /// The last failure (its message), so that a broken output is reported
    /// once.
    failed: Option<String>,
}

impl Outputs {
    pub fn new(id: Uuid, hls_dir: PathBuf) -> Outputs {
        Outputs {
            id,
            hls_dir,
            config: OutputConfig::default(),
            hls: None,
            hls_written: false,
            rtsp: None,
            failed: None,
        }
    }

    /// Applies a changed configuration: outputs turned off stop now.
    pub fn configure(&mut self, config: &OutputConfig) {
        if !config.hls && self.hls.is_some() {
            self.stop_hls();
        }
        if config.rtsp != self.config.rtsp {
            self.rtsp = None;
        }
        if *config != self.config {
            self.failed = None;
        }
        self.config = config.clone();
    }

    /// Whether any output wants frames.
    pub fn active(&self) -> bool {
        self.config.hls || self.config.rtsp.is_some()
    }

    /// Feeds one processed frame to every enabled output. Returns an error
    /// once per failure (the caller reports it).
    pub fn push(&mut self, frame: &YuvFrame) -> Result<(), OutputError> {
        let size = (frame.width, frame.height);
        let r = self
            .push_hls(frame, size)
            .map_err(|e| OutputError::Hls(Box::new(e)))
            .and(self.push_rtsp(frame, size).map_err(|e| OutputError::Rtsp(Box::new(e))));
        match r {
            Err(e) => {
                let message = crate::error::chain(&e);
                if self.failed.as_ref() == Some(&message) {
                    return Ok(());
                }
                self.failed = Some(message);
                Err(e)
            }
            Ok(()) => Ok(()),
        }
    }

    fn push_hls(&mut self, frame: &YuvFrame, size: (u32, u32)) -> Result<(), OutputError> {
        if !self.config.hls {
            return Ok(());
        }
        if self.hls.as_ref().is_some_and(|e| e.size != size) {
            self.stop_hls();
        }
        if self.hls.is_none() {
            std::fs::create_dir_all(&self.hls_dir)
                .map_err(|source| OutputError::HlsDir { path: self.hls_dir.clone(), source })?;
            let sink = element("hlssink2")?;
            let segments = self.hls_dir.join(format!("{}-%05d.ts", self.id));
            sink.set_property("location", segments.to_string_lossy().as_ref());
            sink.set_property(
                "playlist-location",
                playlist(&self.hls_dir, self.id).to_string_lossy().as_ref(),
            );
            sink.set_property("target-duration", HLS_SEGMENT_S);
            sink.set_property("playlist-length", HLS_SEGMENTS);
            sink.set_property("max-files", HLS_SEGMENTS + 2);
            self.hls = Some(Encoder::new(size, vec![sink])?);
            self.hls_written = true;
            info!(instance_id = %self.id, width = size.0, height = size.1, "HLS output started");
        }
        let r = self.hls.as_ref().map_or(Ok(()), |e| e.push(frame));
        if r.is_err() {
            self.stop_hls();
        }
        r
    }

    fn push_rtsp(&mut self, frame: &YuvFrame, size: (u32, u32)) -> Result<(), OutputError> {
        let Some(target) = &self.config.rtsp else {
            return Ok(());
        };
        if self.rtsp.as_ref().is_some_and(|r| r.size() != size) {
            self.rtsp = None;
        }
        if self.rtsp.is_none() {
            self.rtsp = Some(RtspOut::start(target, size)?);
        }
        let r = self.rtsp.as_ref().map_or(Ok(()), |o| o.push(frame));
        if r.is_err() {
            self.rtsp = None;
        }
        r
    }

    fn stop_hls(&mut self) {
        if self.hls.take().is_some() {
            info!(instance_id = %self.id, "HLS output stopped");
        }
        remove_hls_files(&self.hls_dir, self.id);
        self.hls_written = false;
    }

    /// Stops every output now (the instance stops).
    pub fn stop(&mut self) {
        self.configure(&OutputConfig::default());
    }
}

impl Drop for Outputs {
    /// Deletes this run's HLS files, and only this run's: a worker left to
    /// finish in the background after a stop (see `media::STOP_GRACE`) must
    /// not delete the files of the instance's next run.
    fn drop(&mut self) {
        if self.hls_written {
            self.stop_hls();
        }
    }
}

/// Whether `host` is an IP address of this machine (one can bind to it).
fn is_local_address(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| std::net::UdpSocket::bind((ip, 0)).is_ok())
}

/// The playlist of an instance.
pub fn playlist(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(format!("{id}.m3u8"))
}

/// Deletes an instance's playlist and segments.
pub fn remove_hls_files(dir: &Path, id: Uuid) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = id.to_string();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix)
            && (name.ends_with(".m3u8") || name.ends_with(".ts") || name.ends_with(".tmp"))
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            warn!(instance_id = %id, file = %name, error = %e, "could not remove an HLS file");
        }
    }
}
