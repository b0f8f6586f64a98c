//! ONVIF cameras: discovery, device information, stream addresses and
//! stored credentials.
//!
//! [`Onvif`] is the registry of known devices. Discovery ([`Onvif::discover`])
//! sends a WS-Discovery Probe and collects the answers; a background task
//! ([`Onvif::listen`]) hears Hello and Bye announcements. Each device is
//! then asked for its information over SOAP, with its stored credentials as
//! a WS-UsernameToken digest, and keeps a state: `Ok`, `Unauthorized`, or
//! `Unknown` with a message saying what went wrong (timeout, SOAP fault,
//! malformed answer, unreachable). A device's failure is its state, never an
//! error of the request that asked.
//!
//! Passwords are never logged (their `Debug` is redacted) and never part
//! of [`Camera`]; with [`Onvif::with_saved`] they are also written, sealed,
//! to a file ([`saved`]) and come back at the next start: a camera found
//! again gets its credentials back, and an instance's RTSP stream of a
//! camera's address logs in with them even before discovery. The media
//! pipeline gets them through [`Onvif`]'s [`StreamCredentials`] impl.
//!
//! # Layout
//!
//! - [`saved`]: credentials kept across restarts, sealed.
//! - [`discovery`]: WS-Discovery messages and sockets.
//! - [`soap`]: SOAP envelopes, the UsernameToken digest, the device and
//!   media calls and their answers.
//! - [`xml`]: a small element tree over quick-xml.

pub mod discovery;
pub mod saved;
pub mod soap;
pub mod xml;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::runtime::StreamCredentials;
use crate::secrets::Secrets;
use discovery::{Announcement, Message};
use saved::{Restored, SavedCredentials};
use soap::SoapError;

/// Bounds of a discovery's `timeout` (seconds), from the contract.
pub const DISCOVERY_TIMEOUT_S: std::ops::RangeInclusive<u32> = 1..=30;

/// Where and how to discover.
#[derive(Debug, Clone)]
pub struct OnvifOptions {
    /// IPv4 address of the interface to probe on; `None`: the system's choice.
    pub interface: Option<Ipv4Addr>,
    /// Where the Probe goes: the WS-Discovery group, or a unicast address.
    pub probe_address: SocketAddr,
    /// Where Hello and Bye are heard; `None`: not at all.
    pub listen_address: Option<SocketAddr>,
    /// Limit of one SOAP call.
    pub request_timeout: Duration,
}

impl Default for OnvifOptions {
    fn default() -> Self {
        OnvifOptions {
            interface: None,
            probe_address: SocketAddr::from((discovery::MULTICAST_GROUP, discovery::PORT)),
            listen_address: Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, discovery::PORT))),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// A user name and password for a camera. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// A device's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    Ok,
    Unauthorized,
    Unknown,
}

/// GetDeviceInformation's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceInfo {
    pub manufacturer: String,
    pub model: String,
    pub firmware_version: String,
    pub serial_number: String,
    pub hardware_id: String,
}

/// One video profile of a camera and its stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub token: String,
    pub name: String,
    pub codec: String,
    pub width: i32,
    pub height: i32,
    pub fps: f64,
    /// RTSP URI, without credentials.
    pub uri: String,
}

/// A known device as the API shows it: no password.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub uuid: String,
    pub address: String,
    pub xaddr: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub state: DeviceState,
    pub message: Option<String>,
    pub info: Option<DeviceInfo>,
    pub username: Option<String>,
}

#[derive(Debug, Clone)]
struct Device {
    camera: Camera,
    credentials: Option<Credentials>,
    /// Why stored credentials could not be opened at startup, if so.
    locked: Option<String>,
}

/// The registry of ONVIF devices.
pub struct Onvif {
    options: OnvifOptions,
    client: soap::Client,
    devices: Mutex<BTreeMap<String, Device>>,
    /// Where credentials are kept across restarts (`None`: memory only).
    saved: Option<SavedCredentials>,
    /// Credentials read back at startup, by uuid, until set again.
    restored: Mutex<BTreeMap<String, Restored>>,
}

impl fmt::Debug for Onvif {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Onvif").field("options", &self.options).finish_non_exhaustive()
    }
}

/// The host part of a URL (`http://host:port/...`), brackets removed.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default().to_string();
    }
    authority.split(':').next().unwrap_or_default().to_string()
}

impl Onvif {
    pub fn new(options: OnvifOptions) -> Self {
        let client = soap::Client::new(options.request_timeout);
        Onvif {
            options,
            client,
            devices: Mutex::new(BTreeMap::new()),
            saved: None,
            restored: Mutex::default(),
        }
    }

    /// A registry whose credentials are kept in `path`, sealed with
    /// `secrets`. Credentials that cannot be opened (missing or wrong key)
    /// are logged with the reason, kept on disk, and reported by the
    /// camera's `message` and by any instance that needs them.
    pub fn with_saved(
        options: OnvifOptions,
        path: impl Into<std::path::PathBuf>,
        secrets: Arc<Secrets>,
    ) -> Result<Self> {
        let (saved, restored) = SavedCredentials::open(path, secrets)?;
        for (uuid, r) in &restored {
            match &r.credentials {
                Ok(c) => info!(uuid, username = %c.username, "ONVIF credentials restored"),
                Err(why) => tracing::error!(
                    uuid,
                    address = %r.address,
                    error = %why,
                    "ONVIF credentials cannot be decrypted"
                ),
            }
        }
        let o = Onvif { saved: Some(saved), restored: Mutex::new(restored), ..Self::new(options) };
        Ok(o)
    }

    fn restored(&self) -> MutexGuard<'_, BTreeMap<String, Restored>> {
        self.restored.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn devices(&self) -> MutexGuard<'_, BTreeMap<String, Device>> {
        self.devices.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every known device, in uuid order.
    pub fn cameras(&self) -> Vec<Camera> {
        self.devices().values().map(|d| d.camera.clone()).collect()
    }

    /// The uuid of the device with this uuid (with or without `urn:uuid:`)
    /// or address.
    fn resolve(&self, id: &str) -> Result<String> {
        let devices = self.devices();
        let bare = |u: &str| u.strip_prefix("urn:uuid:").unwrap_or(u).to_ascii_lowercase();
        devices
            .values()
            .find(|d| d.camera.uuid == id || bare(&d.camera.uuid) == bare(id))
            .or_else(|| devices.values().find(|d| d.camera.address == id))
            .map(|d| d.camera.uuid.clone())
            .ok_or_else(|| Error::CameraNotFound(id.to_string()))
    }

    /// Records a ProbeMatch or Hello; returns the uuid when the device has
    /// an HTTP device service (others cannot be queried and are skipped).
    fn record(&self, a: &Announcement, from: SocketAddr) -> Option<String> {
        let Some(xaddr) =
            a.xaddrs.iter().find(|x| x.starts_with("http://") || x.starts_with("https://"))
        else {
            warn!(uuid = %a.uuid, %from, "ignored an ONVIF device without an HTTP XAddr");
            return None;
        };
        let mut devices = self.devices();
        let d = devices.entry(a.uuid.clone()).or_insert_with(|| Device {
            camera: Camera {
                uuid: a.uuid.clone(),
                address: String::new(),
                xaddr: String::new(),
                name: String::new(),
                scopes: Vec::new(),
                state: DeviceState::Unknown,
                message: Some("not queried yet".into()),
                info: None,
                username: None,
            },
            credentials: None,
            locked: None,
        });
        if d.credentials.is_none()
            && d.locked.is_none()
            && let Some(r) = self.restored().get(&a.uuid)
        {
            match &r.credentials {
                Ok(c) => {
                    d.camera.username = Some(c.username.clone());
                    d.credentials = Some(c.clone());
                }
                Err(why) => d.locked = Some(why.clone()),
            }
        }
        d.camera.xaddr = xaddr.clone();
        d.camera.address = host_of(xaddr);
        d.camera.scopes = a.scopes.clone();
        d.camera.name = discovery::name_from_scopes(&a.scopes);
        Some(a.uuid.clone())
    }

    /// Sends a Probe, collects answers for `timeout_s` seconds (1-30), then
    /// reads every answering device's information. Returns how many
    /// devices answered.
    pub async fn discover(&self, timeout_s: u32) -> Result<usize> {
        if !DISCOVERY_TIMEOUT_S.contains(&timeout_s) {
            return Err(Error::invalid("timeout", "must be between 1 and 30 seconds"));
        }
        let socket = discovery::probe_socket(self.options.interface).map_err(Error::Discovery)?;
        let target = self.options.probe_address;
        info!(%target, timeout_s, "ONVIF discovery: probing");
        let messages =
            discovery::probe_and_collect(&socket, target, Duration::from_secs(timeout_s.into()))
                .await
                .map_err(Error::Discovery)?;
        let mut found = Vec::new();
        for (from, m) in &messages {
            match m {
                Message::ProbeMatches(all) => {
                    found.extend(all.iter().filter_map(|a| self.record(a, *from)))
                }
                Message::Hello(a) => found.extend(self.record(a, *from)),
                Message::Bye(uuid) => self.bye(uuid),
            }
        }
        found.sort();
        found.dedup();
        let refreshes = found.iter().map(|uuid| self.refresh(uuid));
        futures_join_all(refreshes).await;
        info!(found = found.len(), "ONVIF discovery: done");
        Ok(found.len())
    }

    fn bye(&self, uuid: &str) {
        if let Some(d) = self.devices().get_mut(uuid) {
            info!(uuid, "ONVIF device left (Bye)");
            d.camera.state = DeviceState::Unknown;
            d.camera.message = Some("the camera left the network (WS-Discovery Bye)".into());
        }
    }

    /// Applies a call's outcome to the device's state.
    fn set_state(&self, uuid: &str, outcome: std::result::Result<Option<DeviceInfo>, &SoapError>) {
        let mut devices = self.devices();
        let Some(d) = devices.get_mut(uuid) else { return };
        match outcome {
            Ok(info) => {
                d.camera.state = DeviceState::Ok;
                d.camera.message = None;
                if info.is_some() {
                    d.camera.info = info;
                }
            }
            Err(e) => {
                d.camera.state = if e.is_unauthorized() {
                    DeviceState::Unauthorized
                } else {
                    DeviceState::Unknown
                };
                d.camera.message = Some(match (&d.locked, &d.credentials) {
                    (Some(why), None) => {
                        format!("{e}; its stored credentials cannot be decrypted: {why}")
                    }
                    _ => e.to_string(),
                });
                debug!(uuid, error = %e, "ONVIF device state");
            }
        }
    }

    /// Reads the device's information, with its stored credentials.
    async fn refresh(&self, uuid: &str) {
        let Some((xaddr, creds)) =
            self.devices().get(uuid).map(|d| (d.camera.xaddr.clone(), d.credentials.clone()))
        else {
            return;
        };
        match self.client.device_info(&xaddr, creds.as_ref()).await {
            Ok(info) => self.set_state(uuid, Ok(Some(info))),
            Err(e) => self.set_state(uuid, Err(&e)),
        }
    }

    /// Stores credentials for a device, then re-reads its information.
    pub async fn set_credentials(&self, id: &str, credentials: Credentials) -> Result<()> {
        let uuid = self.resolve(id)?;
        if let Some(saved) = &self.saved {
            let address = self.devices().get(&uuid).map(|d| d.camera.address.clone());
            saved.store(&uuid, &address.unwrap_or_default(), &credentials)?;
            self.restored().remove(&uuid);
        }
        if let Some(d) = self.devices().get_mut(&uuid) {
            info!(uuid, username = %credentials.username, "ONVIF credentials stored");
            d.camera.username = Some(credentials.username.clone());
            d.credentials = Some(credentials);
            d.locked = None;
        }
        self.refresh(&uuid).await;
        Ok(())
    }

    /// The device's video profiles and their stream URIs.
    pub async fn streams(&self, id: &str) -> Result<Vec<Stream>> {
        let uuid = self.resolve(id)?;
        let Some((xaddr, creds)) =
            self.devices().get(&uuid).map(|d| (d.camera.xaddr.clone(), d.credentials.clone()))
        else {
            return Err(Error::CameraNotFound(id.to_string()));
        };
        match self.client.streams(&xaddr, creds.as_ref()).await {
            Ok(streams) => {
                self.set_state(&uuid, Ok(None));
                Ok(streams)
            }
            Err(e) => {
                self.set_state(&uuid, Err(&e));
                let message = e.to_string();
                Err(if e.is_unauthorized() {
                    Error::CameraUnauthorized { camera: id.to_string(), message }
                } else {
                    Error::CameraUnavailable { camera: id.to_string(), message }
                })
            }
        }
    }

    /// Hears Hello and Bye messages until the task is dropped; does nothing
    /// when no listen address is configured. A socket that cannot be opened
    /// (port taken without `SO_REUSEADDR`, no multicast route) is a warning:
    /// Probe discovery still works.
    pub async fn listen(self: Arc<Self>) {
        let Some(addr) = self.options.listen_address else { return };
        let socket = match discovery::listen_socket(addr, self.options.interface) {
            Ok(s) => s,
            Err(e) => {
                warn!(%addr, error = %e, "cannot listen for ONVIF Hello/Bye announcements");
                return;
            }
        };
        info!(address = %socket.local_addr().map_or(addr, |a| a), "listening for ONVIF Hello/Bye");
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = match socket.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "ONVIF announcement socket failed");
                    return;
                }
            };
            match discovery::parse(&String::from_utf8_lossy(&buf[..n])) {
                Ok(Some(Message::Hello(a))) => {
                    if let Some(uuid) = self.record(&a, from) {
                        info!(uuid, %from, "ONVIF device announced itself (Hello)");
                        self.refresh(&uuid).await;
                    }
                }
                Ok(Some(Message::Bye(uuid))) => self.bye(&uuid),
                Ok(_) => {}
                Err(e) => warn!(%from, error = %e, "ignored a malformed WS-Discovery message"),
            }
        }
    }
}

/// Awaits every future, concurrently, on the current task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
}

impl StreamCredentials for Onvif {
    fn for_uri(&self, uri: &str) -> std::result::Result<Option<(String, String)>, String> {
        let host = host_of(uri);
        let known = self
            .devices()
            .values()
            .filter(|d| d.camera.address == host)
            .find_map(|d| d.credentials.as_ref())
            .map(|c| (c.username.clone(), c.password.clone()));
        if known.is_some() {
            return Ok(known);
        }
        // Not discovered (yet) since the start: the credentials kept for
        // that address.
        match self.restored().iter().find(|(_, r)| r.address == host) {
            Some((_, Restored { credentials: Ok(c), .. })) => {
                Ok(Some((c.username.clone(), c.password.clone())))
            }
            Some((uuid, Restored { credentials: Err(why), .. })) => Err(format!(
                "the stored ONVIF credentials of camera {uuid} ({host}) cannot be decrypted: {why}"
            )),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls() {
        for (url, want) in [
            ("http://192.0.2.7/onvif/device_service", "192.0.2.7"),
            ("http://192.0.2.7:8080/onvif", "192.0.2.7"),
            ("rtsp://u:p@cam.local:554/x", "cam.local"),
            ("http://[fe80::1]:80/x", "fe80::1"),
        ] {
            assert_eq!(host_of(url), want, "{url}");
        }
    }

    #[test]
    fn credentials_do_not_show_in_debug_output() {
        let c = Credentials { username: "admin".into(), password: "s3cret".into() };
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn unknown_cameras_and_bad_timeouts_are_refused() {
        let o = Onvif::new(OnvifOptions::default());
        assert!(matches!(o.streams("nope").await, Err(Error::CameraNotFound(_))));
        let creds = Credentials { username: "a".into(), password: "b".into() };
        assert!(matches!(o.set_credentials("nope", creds).await, Err(Error::CameraNotFound(_))));
        for t in [0, 31] {
            assert!(matches!(o.discover(t).await, Err(Error::Invalid { .. })), "{t}");
        }
    }
}
