//! WS-Discovery (the 2005/04 draft ONVIF uses): the Probe we multicast, the
//! ProbeMatches, Hello and Bye messages devices send, and the UDP sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::xml::{self, Element};

/// The WS-Discovery multicast group and port.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const PORT: u16 = 3702;

/// What a device says about itself in a ProbeMatch or a Hello.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// Endpoint reference address (`urn:uuid:...`).
    pub uuid: String,
    pub types: Vec<String>,
    pub scopes: Vec<String>,
    /// Device service URLs; the first HTTP one is used.
    pub xaddrs: Vec<String>,
    pub metadata_version: u32,
}

/// A message a device sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Answers to our Probe (one datagram may hold several).
    ProbeMatches(Vec<Announcement>),
    Hello(Announcement),
    /// The device leaves; its endpoint reference.
    Bye(String),
}

/// A Probe for ONVIF video transmitters, with this message id.
pub fn probe(message_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>{}</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"#,
        xml::escape(message_id)
    )
}

fn words(el: Option<&Element>) -> Vec<String> {
    el.map(|e| e.text.split_whitespace().map(String::from).collect()).unwrap_or_default()
}

fn announcement(el: &Element) -> Result<Announcement, String> {
    let uuid = el
        .text_at(&["EndpointReference", "Address"])
        .filter(|s| !s.is_empty())
        .ok_or("no EndpointReference/Address")?
        .to_string();
    Ok(Announcement {
        uuid,
        types: words(el.child("Types")),
        scopes: words(el.child("Scopes")),
        xaddrs: words(el.child("XAddrs")),
        metadata_version: el
            .text_at(&["MetadataVersion"])
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

/// Reads one datagram. Messages other than these three (another client's
/// Probe, for one) are `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Message>, String> {
    let root = xml::parse(text)?;
    let body = root.child("Body").ok_or("no SOAP Body")?;
    let Some(msg) = body.children.first() else { return Ok(None) };
    Ok(Some(match msg.name.as_str() {
        "ProbeMatches" => Message::ProbeMatches(
            msg.all("ProbeMatch").map(announcement).collect::<Result<_, _>>()?,
        ),
        "Hello" => Message::Hello(announcement(msg)?),
        "Bye" => Message::Bye(
            msg.text_at(&["EndpointReference", "Address"])
                .ok_or("no EndpointReference/Address")?
                .to_string(),
        ),
        _ => return Ok(None),
    }))
}

/// The device's name from its scopes (`onvif://www.onvif.org/name/<name>`),
/// percent-decoded.
pub fn name_from_scopes(scopes: &[String]) -> String {
    scopes
        .iter()
        .find_map(|s| s.strip_prefix("onvif://www.onvif.org/name/"))
        .map(percent_decode)
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A UDP socket to send a Probe from: bound to the interface's address
/// (any when unset), with multicast going out of that interface.
pub fn probe_socket(interface: Option<Ipv4Addr>) -> std::io::Result<UdpSocket> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    let local = interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
    if let Some(ip) = interface {
        s.set_multicast_if_v4(&ip)?;
    }
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::new(IpAddr::V4(local), 0).into())?;
    UdpSocket::from_std(s.into())
}

/// A socket that hears Hello and Bye messages on `addr`; when `addr` is the
/// WS-Discovery port on an unspecified address, it joins the multicast
/// group on the interface. Shared with other listeners (`SO_REUSEADDR`).
pub fn listen_socket(addr: SocketAddr, interface: Option<Ipv4Addr>) -> std::io::Result<UdpSocket> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    if addr.ip().is_unspecified() || addr.ip().is_multicast() {
        s.join_multicast_v4(&MULTICAST_GROUP, &interface.unwrap_or(Ipv4Addr::UNSPECIFIED))?;
    }
    UdpSocket::from_std(s.into())
}

/// Sends a Probe to `target` and returns every device message received
/// within `timeout`. Datagrams that do not parse are logged and skipped.
pub async fn probe_and_collect(
    socket: &UdpSocket,
    target: SocketAddr,
    timeout: Duration,
) -> std::io::Result<Vec<(SocketAddr, Message)>> {
    let id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    socket.send_to(probe(&id).as_bytes(), target).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let Ok(received) = received else { break };
        let (n, from) = received?;
        match parse(&String::from_utf8_lossy(&buf[..n])) {
            Ok(Some(m)) => out.push((from, m)),
            Ok(None) => {}
            Err(e) => tracing::warn!(%from, error = %e, "ignored a malformed WS-Discovery answer"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_matches_hello_and_bye_are_read() {
        let pm = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<SOAP-ENV:Header><wsa:MessageID>uuid:1419d68a-1dd2-11b2-a105-F0F0F0F0F0F0</wsa:MessageID><wsa:RelatesTo>urn:uuid:abc</wsa:RelatesTo>
<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header>
<SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:3fa1fe68-b915-4053-a3e1-ac15a21f5f91</wsa:Address></wsa:EndpointReference>
<wsdd:Types>dn:NetworkVideoTransmitter tds:Device</wsdd:Types>
<wsdd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/IPC-2000 onvif://www.onvif.org/location/city/Lisbon</wsdd:Scopes>
<wsdd:XAddrs>http://192.0.2.7/onvif/device_service http://[fe80::1]/onvif/device_service</wsdd:XAddrs><wsdd:MetadataVersion>10</wsdd:MetadataVersion>
</wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let Some(Message::ProbeMatches(m)) = parse(pm).unwrap() else { panic!("probe matches") };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].uuid, "urn:uuid:3fa1fe68-b915-4053-a3e1-ac15a21f5f91");
        assert_eq!(m[0].xaddrs[0], "http://192.0.2.7/onvif/device_service");
        assert_eq!(m[0].metadata_version, 10);
        assert_eq!(name_from_scopes(&m[0].scopes), "Front Door");

        let hello = pm
            .replace("ProbeMatches>", "Hello>")
            .replace("<wsdd:ProbeMatch>", "")
            .replace("</wsdd:ProbeMatch>", "");
        assert!(matches!(parse(&hello).unwrap(), Some(Message::Hello(a)) if a.scopes.len() == 5));
        let bye = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="a" xmlns:d="d"><s:Body><d:Bye><a:EndpointReference><a:Address>urn:uuid:x</a:Address></a:EndpointReference></d:Bye></s:Body></s:Envelope>"#;
        assert_eq!(parse(bye).unwrap(), Some(Message::Bye("urn:uuid:x".into())));
        // Another client's Probe is not a device message.
        assert_eq!(parse(&probe("urn:uuid:y")).unwrap(), None);
        assert!(parse(&pm[..pm.len() - 40]).is_err());
    }

    #[test]
    fn names_are_percent_decoded() {
        for (scopes, want) in [
            (vec!["onvif://www.onvif.org/name/Caf%C3%A9%20Cam"], "Café Cam"),
            (vec!["onvif://www.onvif.org/type/x"], ""),
            (vec!["onvif://www.onvif.org/name/100%"], "100%"),
        ] {
            let scopes: Vec<String> = scopes.into_iter().map(String::from).collect();
            assert_eq!(name_from_scopes(&scopes), want);
        }
    }
}
