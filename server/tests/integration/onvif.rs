//! ONVIF against a simulated camera: a WS-Discovery responder on UDP and
//! the SOAP device and media services over HTTP, all on 127.0.0.1.
//!
//! Loopback and multicast: instead of multicasting on `lo` (which needs
//! `ip link set lo multicast on` and a route, as root), the server's
//! `onvif.probe_address` is aimed at the simulator's unicast address and
//! `onvif.listen_address` at a free loopback port for Hello/Bye. The
//! WS-Discovery messages and the code paths are the same; only the
//! destination differs, and the tests run unprivileged and in parallel.
//!
//! The simulator answers like a real camera (Hikvision-style XML), checks
//! the WS-UsernameToken digest independently (its own SHA-1), and can be
//! told to misbehave (truncated XML, SOAP faults, no answer).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use crate::common::TestServer;
use crate::media::{Record, read_sse};

pub(crate) const USER: &str = "admin";
pub(crate) const PASSWORD: &str = "Sup3r-S3cret!";

/// How a simulated camera answers SOAP calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Behaviour {
    Normal,
    /// Every answer cut in the middle.
    Truncated,
    /// Every call answered with a SOAP fault (not an auth one).
    Fault,
    /// Device calls fine; GetStreamUri answers a fault.
    FaultOnStreamUri,
    /// Never answers.
    Hang,
    /// HTTP 500 with an HTML page.
    Html500,
}

/// One simulated camera.
pub(crate) struct SimCamera {
    pub(crate) uuid: String,
    name: &'static str,
    behaviour: Behaviour,
    /// What GetStreamUri returns for the main profile.
    rtsp: String,
    /// Where its device service is (its own HTTP server, or a dead port).
    xaddr: String,
}

/// A WS-Discovery responder plus one HTTP server per camera.
pub(crate) struct Simulator {
    udp: Arc<UdpSocket>,
    pub(crate) cameras: Arc<Vec<SimCamera>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The text of the first element opened by `open` (`<prefix:Name`,
/// attributes allowed) up to `close`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let at = text
        .match_indices(open)
        .map(|(i, _)| i + open.len())
        .find(|&i| matches!(text.as_bytes().get(i), Some(b'>' | b' ')))?;
    let start = at + text[at..].find('>')? + 1;
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

/// Checks the UsernameToken as a camera does: digest of nonce + created +
/// password, computed here without the server's code.
fn authorised(body: &str) -> bool {
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        between(body, "<wsse:Username", "</wsse:Username>"),
        between(body, "<wsse:Password", "</wsse:Password>"),
        between(body, "<wsse:Nonce", "</wsse:Nonce>"),
        between(body, "<wsu:Created", "</wsu:Created>"),
    ) else {
        return false;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let Ok(nonce) = b64.decode(nonce) else { return false };
    let mut h = Sha1::new();
    h.update(&nonce);
    h.update(created.as_bytes());
    h.update(PASSWORD.as_bytes());
    user == USER && digest == b64.encode(h.finalize())
}

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:soapenc="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:ter="http://www.onvif.org/ver10/error">
<env:Body>{body}</env:Body>
</env:Envelope>"#
    )
}

fn fault(sub: &str, reason: &str) -> String {
    envelope(&format!(
        r#"<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>{sub}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>"#
    ))
}

/// (HTTP status, body) of a call, as the camera would answer it.
fn answer(cam: &SimCamera, body: &str, media_xaddr: &str) -> (u16, String) {
    if !authorised(body) {
        return (400, fault("ter:NotAuthorized", "Sender not Authorized"));
    }
    let ok = |b: String| (200, envelope(&b));
    let r = if body.contains("GetDeviceInformation") {
        ok(format!(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>ACME Vision</tds:Manufacturer>\
             <tds:Model>IPC-{}</tds:Model><tds:FirmwareVersion>V5.6.3 build 200225</tds:FirmwareVersion>\
             <tds:SerialNumber>ACME-2CD2143G0-I20200101AAWRE12345</tds:SerialNumber>\
             <tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>",
            cam.name
        ))
    } else if body.contains("GetCapabilities") {
        ok(format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>{media_xaddr}</tt:XAddr>\
             <tt:StreamingCapabilities><tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>\
             <tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities>\
             </tds:GetCapabilitiesResponse>"
        ))
    } else if body.contains("GetProfiles") {
        let profile = |token: &str, name: &str, enc: &str, w: u32, h: u32, fps: u32| {
            format!(
                r#"<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>
<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="768" height="576"></tt:Bounds></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="VE_{token}"><tt:Name>VideoEncoder_{token}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>{enc}</tt:Encoding>
<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality>
<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>
<tt:H264><tt:GovLength>10</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264><tt:SessionTimeout>PT5S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>"#
            )
        };
        ok(format!(
            "<trt:GetProfilesResponse>{}{}</trt:GetProfilesResponse>",
            profile("Profile_1", "mainStream", "H264", 768, 576, 10),
            profile("Profile_2", "subStream", "H264", 352, 288, 5)
        ))
    } else if body.contains("GetStreamUri") {
        if cam.behaviour == Behaviour::FaultOnStreamUri {
            return (500, fault("ter:InvalidArgVal", "No such profile: stream not configured"));
        }
        let uri = if body.contains("Profile_1") {
            // Some cameras put credentials in the URI; they must not leak.
            cam.rtsp.replacen("rtsp://", &format!("rtsp://{USER}:{PASSWORD}@"), 1)
        } else {
            format!("{}?profile=sub&amp;transport=unicast", cam.rtsp.replace("/clip", "/sub"))
        };
        ok(format!(
            "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>\
             <tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        ))
    } else {
        (500, fault("ter:ActionNotSupported", "Optional Action Not Implemented"))
    };
    match cam.behaviour {
        Behaviour::Truncated => (r.0, r.1[..r.1.len() / 2].to_string()),
        Behaviour::Fault => (500, fault("ter:Action", "The device is busy: try again later")),
        Behaviour::Html500 => {
            (500, "<html><body><h1>500 Internal Server Error</h1></body></html>".into())
        }
        _ => r,
    }
}

/// Serves one camera's device and media services (one request per
/// connection, `Connection: close`).
async fn serve_http(listener: TcpListener, cameras: Arc<Vec<SimCamera>>, index: usize) {
    let media = format!("http://{}/onvif/media_service", listener.local_addr().unwrap());
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { return };
        let (cameras, media) = (cameras.clone(), media.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let Ok(n) = sock.read(&mut chunk).await else { return };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                let Some(end) = text.find("\r\n\r\n") else { continue };
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break text[end + 4..].to_string();
                }
            };
            let cam = &cameras[index];
            if cam.behaviour == Behaviour::Hang {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
            let (status, reply) = answer(cam, &body, &media);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/soap+xml; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

fn announcement(kind: &str, cam: &SimCamera, relates_to: Option<&str>) -> String {
    let relates =
        relates_to.map(|r| format!("<wsa:RelatesTo>{r}</wsa:RelatesTo>")).unwrap_or_default();
    let body = match kind {
        "Bye" => format!(
            "<wsdd:Bye><wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference></wsdd:Bye>",
            cam.uuid
        ),
        _ => {
            let inner = format!(
                "<wsa:EndpointReference><wsa:Address>{}</wsa:Address></wsa:EndpointReference>\
                 <wsdd:Types>dn:NetworkVideoTransmitter tds:Device</wsdd:Types>\
                 <wsdd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming \
                 onvif://www.onvif.org/hardware/IPC-{n} onvif://www.onvif.org/name/{n}%20camera \
                 onvif://www.onvif.org/location/city/Lisbon</wsdd:Scopes>\
                 <wsdd:XAddrs>{}</wsdd:XAddrs><wsdd:MetadataVersion>1</wsdd:MetadataVersion>",
                cam.uuid,
                cam.xaddr,
                n = cam.name
            );
            if kind == "Hello" {
                format!("<wsdd:Hello>{inner}</wsdd:Hello>")
            } else {
                format!(
                    "<wsdd:ProbeMatches><wsdd:ProbeMatch>{inner}</wsdd:ProbeMatch></wsdd:ProbeMatches>"
                )
            }
        }
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<env:Header><wsa:MessageID>urn:uuid:{}</wsa:MessageID>{relates}<wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/{kind}</wsa:Action></env:Header>
<env:Body>{body}</env:Body></env:Envelope>"#,
        uuid::Uuid::new_v4()
    )
}

impl Simulator {
    /// Starts cameras `(name, behaviour, rtsp uri)`; a `Behaviour::Hang`
    /// camera named `dead` gets an XAddr on a port nobody listens on.
    pub(crate) async fn start(specs: &[(&'static str, Behaviour, String)]) -> Simulator {
        let mut cameras = Vec::new();
        let mut listeners = Vec::new();
        for (name, behaviour, rtsp) in specs {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = if *name == "dead" {
                let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                closed.local_addr().unwrap().port()
            } else {
                listener.local_addr().unwrap().port()
            };
            cameras.push(SimCamera {
                uuid: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
                name,
                behaviour: *behaviour,
                rtsp: rtsp.clone(),
                xaddr: format!("http://127.0.0.1:{port}/onvif/device_service"),
            });
            listeners.push(listener);
        }
        let cameras = Arc::new(cameras);
        let mut tasks = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            tasks.push(tokio::spawn(serve_http(l, cameras.clone(), i)));
        }
        let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let (u, cams) = (udp.clone(), cameras.clone());
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let Ok((n, from)) = u.recv_from(&mut buf).await else { return };
                let probe = String::from_utf8_lossy(&buf[..n]).to_string();
                if !probe.contains("discovery/Probe<") || !probe.contains("NetworkVideoTransmitter")
                {
                    continue;
                }
                let id = between(&probe, "<a:MessageID", "</a:MessageID>").map(String::from);
                for cam in cams.iter() {
                    let m = announcement("ProbeMatches", cam, id.as_deref());
                    let _ = u.send_to(m.as_bytes(), from).await;
                }
            }
        }));
        Simulator { udp, cameras, tasks }
    }

    fn probe_address(&self) -> String {
        self.udp.local_addr().unwrap().to_string()
    }

    async fn announce(&self, kind: &str, index: usize, to: &str) {
        let m = announcement(kind, &self.cameras[index], None);
        self.udp.send_to(m.as_bytes(), to).await.unwrap();
    }
}

pub(crate) fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `onvif` block aimed at the simulator.
pub(crate) fn onvif_config(sim: &Simulator, listen_port: u16) -> Value {
    json!({"onvif": {
        "probe_address": sim.probe_address(),
        "listen_address": format!("127.0.0.1:{listen_port}"),
        "request_timeout_ms": 1500
    }})
}

/// A server (no detector) with this rtconfig.json.
fn server_with(config: &Value) -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("rtconfig.json"), config.to_string()).unwrap();
    let mut s = TestServer::start_in(tmp.path(), &[]);
    s.keep(tmp);
    s
}

async fn cameras(s: &TestServer) -> Vec<Value> {
    let (status, body) = s.raw("GET", "/v1/onvif/cameras", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(PASSWORD), "a password in a response: {body}");
    body.as_array().unwrap().clone()
}

async fn camera(s: &TestServer, uuid: &str) -> Value {
    cameras(s)
        .await
        .into_iter()
        .find(|c| c["uuid"] == uuid)
        .unwrap_or_else(|| panic!("{uuid} listed"))
}

fn creds(password: &str) -> String {
    json!({"username": USER, "password": password}).to_string()
}

#[tokio::test]
async fn discovery_finds_the_camera_and_its_credentials_unlock_its_streams() {
    let sim =
        Simulator::start(&[("Lobby", Behaviour::Normal, "rtsp://127.0.0.1:8554/clip".into())])
            .await;
    let s = server_with(&onvif_config(&sim, free_udp_port()));
    assert_eq!(s.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    let uuid = sim.cameras[0].uuid.clone();

    let c = camera(&s, &uuid).await;
    assert_eq!(c["address"], "127.0.0.1");
    assert_eq!(c["xaddr"], sim.cameras[0].xaddr.as_str());
    assert_eq!(c["name"], "Lobby camera");
    assert_eq!(c["scopes"].as_array().unwrap().len(), 5);
    assert_eq!(c["state"], "Unauthorized", "{c}");
    assert!(c["message"].as_str().unwrap().contains("requires credentials"), "{c}");
    assert_eq!((c["hasCredentials"].clone(), c.get("manufacturer")), (json!(false), None));

    let streams = format!("/v1/onvif/streams/{}", uuid);
    let (status, body) = s.raw("GET", &streams, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Unauthorized"), "{body}");

    let set = format!("/v1/onvif/camera/{}/credentials", uuid);
    assert_eq!(s.raw("POST", &set, Some(&creds("wrong"))).await.0, 204);
    let c = camera(&s, &uuid).await;
    assert_eq!(c["state"], "Unauthorized");
    assert!(c["message"].as_str().unwrap().contains("refused the credentials"), "{c}");
    assert_eq!((c["username"].clone(), c["hasCredentials"].clone()), (json!(USER), json!(true)));

    assert_eq!(s.raw("POST", &set, Some(&creds(PASSWORD))).await.0, 204);
    let c = camera(&s, &uuid).await;
    assert_eq!(c["state"], "Ok", "{c}");
    assert_eq!(c.get("message"), None);
    assert_eq!(c["manufacturer"], "ACME Vision");
    assert_eq!(c["model"], "IPC-Lobby");
    assert_eq!(c["firmwareVersion"], "V5.6.3 build 200225");
    assert_eq!(c["serialNumber"], "ACME-2CD2143G0-I20200101AAWRE12345");
    assert_eq!(c["hardwareId"], "88");

    // By uuid, bare uuid or address: the same camera.
    let bare = uuid.trim_start_matches("urn:uuid:");
    for id in [uuid.clone(), bare.to_string(), "127.0.0.1".to_string()] {
        let (status, body) = s.raw("GET", &format!("/v1/onvif/streams/{id}"), None).await;
        assert_eq!(status, 200, "{id}: {body}");
        assert!(!body.to_string().contains(PASSWORD), "password in {body}");
        assert_eq!(
            body,
            json!([
                {"token": "Profile_1", "name": "mainStream", "width": 768, "height": 576, "fps": 10.0,
                 "codec": "H264", "uri": "rtsp://127.0.0.1:8554/clip"},
                {"token": "Profile_2", "name": "subStream", "width": 352, "height": 288, "fps": 5.0,
                 "codec": "H264", "uri": "rtsp://127.0.0.1:8554/sub?profile=sub&transport=unicast"}
            ])
        );
    }
    assert!(!s.logs_so_far().await.contains(PASSWORD), "the password was logged");
}

#[tokio::test]
async fn request_errors_are_a_table() {
    let sim = Simulator::start(&[]).await;
    let s = server_with(&onvif_config(&sim, free_udp_port()));
    use crate::common::{Case, check_cases};
    let cases = [
        Case::new(
            "POST",
            "/v1/onvif/discover?timeout=0",
            None,
            400,
            "timeout: must be between 1 and 30",
        ),
        Case::new("POST", "/v1/onvif/discover?timeout=31", None, 400, "timeout"),
        Case::new("POST", "/v1/onvif/discover?timeout=soon", None, 400, ""),
        Case::new(
            "GET",
            "/v1/onvif/streams/192.0.2.1",
            None,
            404,
            "ONVIF camera 192.0.2.1 not found",
        ),
        Case::new(
            "POST",
            "/v1/onvif/camera/192.0.2.1/credentials",
            Some(&creds("x")),
            404,
            "not found",
        ),
        Case::new(
            "POST",
            "/v1/onvif/camera/192.0.2.1/credentials",
            Some(r#"{"username": "a"}"#),
            400,
            "password",
        ),
        Case::new(
            "POST",
            "/v1/onvif/camera/192.0.2.1/credentials",
            Some(r#"{"username": "", "password": "p"}"#),
            400,
            "username: must not be empty",
        ),
    ];
    check_cases(&s, &cases).await;
    assert_eq!(s.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    assert_eq!(cameras(&s).await, Vec::<Value>::new());
}

#[tokio::test]
async fn bad_replies_give_a_state_and_message_per_camera() {
    let rtsp = "rtsp://127.0.0.1:8554/clip".to_string();
    // (camera, behaviour, state after discovery with credentials, message
    // fragment, streams status, streams message fragment)
    let table: &[(&str, Behaviour, &str, &str, u16, &str)] = &[
        ("good", Behaviour::Normal, "Ok", "", 200, ""),
        ("truncated", Behaviour::Truncated, "Unknown", "malformed answer", 406, "malformed answer"),
        (
            "faulty",
            Behaviour::Fault,
            "Unknown",
            "SOAP fault: Sender/Action (The device is busy",
            406,
            "SOAP fault",
        ),
        ("halfway", Behaviour::FaultOnStreamUri, "Ok", "", 406, "InvalidArgVal (No such profile"),
        (
            "silent",
            Behaviour::Hang,
            "Unknown",
            "did not answer within 1500 ms",
            406,
            "did not answer",
        ),
        ("html", Behaviour::Html500, "Unknown", "malformed answer: HTTP 500", 406, "malformed"),
        ("dead", Behaviour::Hang, "Unknown", "unreachable", 406, "unreachable"),
    ];
    let specs: Vec<_> = table.iter().map(|(n, b, ..)| (*n, *b, rtsp.clone())).collect();
    let sim = Simulator::start(&specs).await;
    let s = server_with(&onvif_config(&sim, free_udp_port()));
    assert_eq!(s.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    let mut failures = Vec::new();
    for (i, (name, _, state, message, status, streams_message)) in table.iter().enumerate() {
        let uuid = &sim.cameras[i].uuid;
        let set = format!("/v1/onvif/camera/{}/credentials", uuid);
        let (st, body) = s.raw("POST", &set, Some(&creds(PASSWORD))).await;
        if st != 204 {
            failures.push(format!("{name}: credentials answered {st} {body}"));
        }
        let c = camera(&s, uuid).await;
        let msg = c["message"].as_str().unwrap_or_default();
        if c["state"] != *state || !msg.contains(message) {
            failures.push(format!("{name}: want {state} with {message:?}, got {c}"));
        }
        let (st, body) = s.raw("GET", &format!("/v1/onvif/streams/{}", uuid), None).await;
        let msg = body["message"].as_str().unwrap_or_default();
        if st != *status || !msg.contains(streams_message) {
            failures.push(format!(
                "{name}: streams want {status} with {streams_message:?}, got {st} {body}"
            ));
        }
        if st == 406 && camera(&s, uuid).await["state"] != "Unknown" {
            failures.push(format!("{name}: state not Unknown after a failed streams call"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn hello_and_bye_announcements_are_heard() {
    let sim =
        Simulator::start(&[("Yard", Behaviour::Normal, "rtsp://127.0.0.1:8554/clip".into())]).await;
    let port = free_udp_port();
    let s = server_with(&onvif_config(&sim, port));
    let uuid = sim.cameras[0].uuid.clone();
    let to = format!("127.0.0.1:{port}");
    let mut seen = None;
    for _ in 0..50 {
        sim.announce("Hello", 0, &to).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(c) = cameras(&s).await.into_iter().find(|c| c["uuid"] == uuid.as_str()) {
            seen = Some(c);
            break;
        }
    }
    let c = seen.expect("the Hello was heard");
    assert_eq!(c["name"], "Yard camera");
    sim.announce("Bye", 0, &to).await;
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let c = camera(&s, &uuid).await;
        if c["state"] == "Unknown" && c["message"].as_str().unwrap_or_default().contains("Bye") {
            gone = true;
            break;
        }
    }
    assert!(gone, "the Bye marked the camera gone: {}", camera(&s, &uuid).await);
}

fn tracks(rs: &[Record]) -> usize {
    rs.iter().filter(|r| r.event == "track").count()
}

#[tokio::test]
async fn a_discovered_stream_feeds_an_instance() {
    let port = crate::common::free_port();
    // The RTSP server wants the same login: the instance gets it from the
    // stored ONVIF credentials, as the URI carries none.
    let _rtsp = crate::rtsp::Camera::start_with_login(port, &[USER, PASSWORD]);
    let clip = format!("rtsp://127.0.0.1:{port}/clip");
    let sim = Simulator::start(&[("Gate", Behaviour::Normal, clip.clone())]).await;
    let s = crate::media::media_server_with(Some(&onvif_config(&sim, free_udp_port())));
    assert_eq!(s.raw("POST", "/v1/onvif/discover?timeout=1", None).await.0, 204);
    let uuid = sim.cameras[0].uuid.clone();
    let set = format!("/v1/onvif/camera/{}/credentials", uuid);
    assert_eq!(s.raw("POST", &set, Some(&creds(PASSWORD))).await.0, 204);
    let (status, streams) = s.raw("GET", &format!("/v1/onvif/streams/{}", uuid), None).await;
    assert_eq!(status, 200, "{streams}");
    let uri = streams[0]["uri"].as_str().unwrap().to_string();
    assert_eq!(uri, clip);

    let id = s.create(json!({"solution": "securt", "debugMode": true, "name": "from ONVIF"})).await;
    let input = json!({"type": "RTSP", "uri": uri}).to_string();
    assert_eq!(s.raw("POST", &format!("/v1/core/instance/{id}/input"), Some(&input)).await.0, 204);
    s.client().start_instance(&id).await.unwrap();
    let path = format!("/v1/core/instance/{id}/consume_events_sse");
    let got = read_sse(&s, &path, None, Duration::from_secs(40), |rs| tracks(rs) >= 20).await;
    assert!(tracks(&got) >= 20, "track events from the ONVIF stream: {}", tracks(&got));
    let (_, cfg) = s.raw("GET", &format!("/v1/core/instance/{id}/config"), None).await;
    assert!(!cfg.to_string().contains(PASSWORD), "the password is not in the config tree");
    assert!(!s.logs_so_far().await.contains(PASSWORD), "the password was logged");
}
