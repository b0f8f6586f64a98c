//! RTSP outputs served by this process: one GStreamer RTSP server per
//! address and port (created on first use, kept for the process's life,
//! its GLib main loop on its own thread), one mount per instance output.
//!
//! A mount's media is shared by its clients: the first client builds it
//! (`appsrc ! x264enc ! rtph264pay`), and the worker pushes frames into its
//! `appsrc` while it exists. Without clients nothing is encoded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use tracing::info;

use super::error::OutputError;
use super::lock;
use super::source::YuvFrame;
use crate::outputs::RtspTarget;

/// An RTSP server listening on one address and port.
struct Host {
    server: rtsp::RTSPServer,
    _main_loop: glib::MainLoop,
}

fn hosts() -> &'static Mutex<HashMap<(String, u16), Host>> {
    static HOSTS: OnceLock<Mutex<HashMap<(String, u16), Host>>> = OnceLock::new();
    HOSTS.get_or_init(Mutex::default)
}

/// The `appsrc` of the mount's current media, if a client made one.
type Slot = Arc<Mutex<Option<gst_app::AppSrc>>>;

/// One mount on a served RTSP host.
pub struct ServedStream {
    key: (String, u16),
    path: String,
    size: (u32, u32),
    slot: Slot,
}

impl std::fmt::Debug for ServedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedStream").field("port", &self.key.1).field("path", &self.path).finish()
    }
}

impl ServedStream {
    /// Mounts `target` for frames of `size`, starting its server if none
    /// listens there yet.
    pub fn mount(target: &RtspTarget, size: (u32, u32)) -> Result<ServedStream, OutputError> {
        super::source::init()?;
        let address = match target.host.as_str() {
            "localhost" => "127.0.0.1",
            "[::1]" => "::1",
            h => h,
        };
        let key = (address.to_string(), target.port);
        let mut hosts = lock(hosts());
        if !hosts.contains_key(&key) {
            hosts.insert(key.clone(), start_host(address, target.port)?);
        }
        let host = &hosts[&key];
        let mounts = host.server.mount_points().ok_or(OutputError::NoMounts)?;
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( appsrc name=src is-live=true format=time do-timestamp=true \
             caps=video/x-raw,format=I420,width={},height={},framerate=0/1 \
             ! queue leaky=downstream max-size-buffers=4 ! videoconvert \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 \
             ! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=1 )",
            size.0, size.1
        ));
        factory.set_shared(true);
        let slot: Slot = Arc::default();
        let s = slot.clone();
        let path = target.path.clone();
        factory.connect_media_configure(move |_, media| {
            let element = media.element();
            let src = element
                .downcast_ref::<gst::Bin>()
                .and_then(|b| b.by_name_recurse_up("src"))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
            info!(path = %path, has_source = src.is_some(), "RTSP output: a client's media starts");
            *lock(&s) = src.clone();
            let s = s.clone();
            let path = path.clone();
            // Only this media's own source leaves the slot: a client that
            // comes as the last one goes gets a new media, configured
            // before the old one is unprepared.
            media.connect_unprepared(move |_| {
                let mut slot = lock(&s);
                if *slot == src {
                    *slot = None;
                }
                info!(path = %path, "RTSP output: a media ends (its clients left)");
            });
        });
        mounts.add_factory(&target.path, factory);
        info!(address, port = target.port, path = %target.path, "RTSP output mounted");
        Ok(ServedStream { key, path: target.path.clone(), size, slot })
    }

    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Hands a frame to the current media, if a client is watching.
    pub fn push(&self, frame: &YuvFrame) {
        if let Some(src) = lock(&self.slot).as_ref() {
            // Refused while the media flushes or stops: the frame is
            // dropped. The media's own signals say when it is gone; a
            // refusal must not, or a media that goes on after it would
            // never get another frame (and its clients wait for ever).
            let _ = src.push_buffer(gst::Buffer::from_slice(frame.data.clone()));
        }
    }
}

impl Drop for ServedStream {
    fn drop(&mut self) {
        if let Some(src) = lock(&self.slot).take() {
            let _ = src.end_of_stream();
        }
        let hosts = lock(hosts());
        if let Some(mounts) = hosts.get(&self.key).and_then(|h| h.server.mount_points()) {
            mounts.remove_factory(&self.path);
            info!(port = self.key.1, path = %self.path, "RTSP output unmounted");
        }
    }
}

fn start_host(address: &str, port: u16) -> Result<Host, OutputError> {
    let server = rtsp::RTSPServer::new();
    server.set_address(address);
    server.set_service(&port.to_string());
    let context = glib::MainContext::new();
    server.attach(Some(&context)).map_err(|source| OutputError::Serve {
        address: address.into(),
        port,
        source,
    })?;
    let main_loop = glib::MainLoop::new(Some(&context), false);
    let l = main_loop.clone();
    std::thread::Builder::new()
        .name(format!("rtsp-{port}"))
        .spawn(move || l.run())
        .map_err(OutputError::Thread)?;
    info!(address, port, "RTSP server listening");
    Ok(Host { server, _main_loop: main_loop })
}
