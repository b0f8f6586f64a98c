//! The SOAP side of ONVIF: envelopes with a WS-UsernameToken, the calls the
//! server makes (GetDeviceInformation, GetCapabilities, GetProfiles,
//! GetStreamUri) and the parsing of their answers.
//!
//! Building requests and reading answers are pure functions (unit-tested
//! here on realistic XML); [`Client`] only adds the HTTP POST.

use std::time::Duration;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::xml::{self, Element};
use super::{Credentials, DeviceInfo, Stream};

const NS_DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
const NS_MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
const NS_SCHEMA: &str = "http://www.onvif.org/ver10/schema";

/// Why a call to a device failed. The registry turns these into the
/// device's state (`Unauthorized` for the first, `Unknown` for the rest)
/// and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SoapError {
    /// No credentials are stored and the device wants some.
    #[error("the camera requires credentials: {0}")]
    CredentialsNeeded(String),
    /// The stored credentials were refused.
    #[error("the camera refused the credentials: {0}")]
    CredentialsRefused(String),
    /// The device answered with a SOAP fault other than an authorisation one.
    #[error("the camera answered with a SOAP fault: {0}")]
    Fault(String),
    /// The answer is not the XML it should be.
    #[error("the camera sent a malformed answer: {0}")]
    Malformed(String),
    /// No answer in time.
    #[error("the camera did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// No connection (refused, no route, bad address).
    #[error("the camera is unreachable: {0}")]
    Unreachable(String),
}

impl SoapError {
    /// Whether the failure is about credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, SoapError::CredentialsNeeded(_) | SoapError::CredentialsRefused(_))
    }
}

/// `Base64(SHA1(nonce + created + password))`, the WS-UsernameToken
/// PasswordDigest (OASIS Username Token Profile 1.0, §3.1; ONVIF Core §5.12).
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// The `wsse:Security` header for `creds`, with this nonce and time.
pub fn security_header(creds: &Credentials, nonce: &[u8], created: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        concat!(
            r#"<wsse:Security s:mustUnderstand="1" "#,
            r#"xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" "#,
            r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
            "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce>"#,
            "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        ),
        user = xml::escape(&creds.username),
        digest = password_digest(nonce, created, &creds.password),
        nonce = b64.encode(nonce),
        created = created,
    )
}

/// A SOAP 1.2 envelope around `body`, with a fresh UsernameToken when
/// credentials are given.
pub fn envelope(body: &str, creds: Option<&Credentials>) -> String {
    let header = match creds {
        Some(c) => {
            let nonce = *uuid::Uuid::new_v4().as_bytes();
            let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            security_header(c, &nonce, &created)
        }
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="{NS_DEVICE}" xmlns:trt="{NS_MEDIA}" xmlns:tt="{NS_SCHEMA}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// The body of a GetStreamUri request for RTSP over unicast RTP.
pub fn get_stream_uri_body(token: &str) -> String {
    format!(
        "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>\
         <tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>\
         <trt:ProfileToken>{}</trt:ProfileToken></trt:GetStreamUri>",
        xml::escape(token)
    )
}

/// Reads an answer: the `Body`'s first element, or the fault it carries.
/// `had_credentials` decides how an authorisation fault is worded.
pub fn read_answer(text: &str, had_credentials: bool) -> Result<Element, SoapError> {
    let root = xml::parse(text).map_err(SoapError::Malformed)?;
    if root.name != "Envelope" {
        return Err(SoapError::Malformed(format!("<{}> instead of a SOAP envelope", root.name)));
    }
    let body = root.child("Body").ok_or(SoapError::Malformed("no SOAP Body".into()))?;
    let first = body.children.first().ok_or(SoapError::Malformed("empty SOAP Body".into()))?;
    if first.name != "Fault" {
        return Ok(first.clone());
    }
    // SOAP 1.2: Code/Value, Code/Subcode/Value..., Reason/Text. SOAP 1.1
    // (still seen): faultcode, faultstring.
    let mut codes: Vec<&str> = Vec::new();
    let mut code = first.child("Code");
    while let Some(c) = code {
        if let Some(v) = c.text_at(&["Value"]) {
            codes.push(v);
        }
        code = c.child("Subcode");
    }
    if let Some(v) = first.text_at(&["faultcode"]) {
        codes.push(v);
    }
    let reason = first
        .text_at(&["Reason", "Text"])
        .or(first.text_at(&["faultstring"]))
        .unwrap_or("no reason given");
    let names: Vec<&str> = codes.iter().map(|c| c.rsplit(':').next().unwrap_or(c)).collect();
    let detail = format!("{} ({reason})", names.join("/"));
    if names.iter().any(|n| matches!(*n, "NotAuthorized" | "FailedAuthentication")) {
        return Err(if had_credentials {
            SoapError::CredentialsRefused(detail)
        } else {
            SoapError::CredentialsNeeded(detail)
        });
    }
    Err(SoapError::Fault(detail))
}

fn missing(what: &str) -> SoapError {
    SoapError::Malformed(format!("no {what} in the answer"))
}

/// GetDeviceInformationResponse.
pub fn parse_device_info(r: &Element) -> Result<DeviceInfo, SoapError> {
    if r.name != "GetDeviceInformationResponse" {
        return Err(SoapError::Malformed(format!("unexpected <{}>", r.name)));
    }
    let field = |n: &str| r.text_at(&[n]).map(String::from);
    Ok(DeviceInfo {
        manufacturer: field("Manufacturer").ok_or_else(|| missing("Manufacturer"))?,
        model: field("Model").ok_or_else(|| missing("Model"))?,
        firmware_version: field("FirmwareVersion").unwrap_or_default(),
        serial_number: field("SerialNumber").unwrap_or_default(),
        hardware_id: field("HardwareId").unwrap_or_default(),
    })
}

/// The media service's address from GetCapabilitiesResponse, if it has one.
pub fn parse_media_xaddr(r: &Element) -> Option<String> {
    r.path(&["Capabilities", "Media", "XAddr"]).map(|e| e.text.clone()).filter(|s| !s.is_empty())
}

/// GetProfilesResponse: one stream per profile with a video encoder
/// (audio-only or metadata-only profiles are skipped); `uri` is empty
/// until GetStreamUri fills it.
pub fn parse_profiles(r: &Element) -> Result<Vec<Stream>, SoapError> {
    if r.name != "GetProfilesResponse" {
        return Err(SoapError::Malformed(format!("unexpected <{}>", r.name)));
    }
    let mut out = Vec::new();
    for p in r.all("Profiles") {
        let token = p.attr("token").ok_or_else(|| missing("profile token"))?.to_string();
        let Some(enc) = p.child("VideoEncoderConfiguration") else { continue };
        let num = |path: &[&str]| -> Result<f64, SoapError> {
            let t = enc.text_at(path).ok_or_else(|| missing(&path.join("/")))?;
            t.parse().map_err(|_| {
                SoapError::Malformed(format!("{}: '{t}' is not a number", path.join("/")))
            })
        };
        out.push(Stream {
            name: p.text_at(&["Name"]).unwrap_or(&token).to_string(),
            token,
            codec: enc.text_at(&["Encoding"]).ok_or_else(|| missing("Encoding"))?.to_string(),
            width: num(&["Resolution", "Width"])? as i32,
            height: num(&["Resolution", "Height"])? as i32,
            fps: num(&["RateControl", "FrameRateLimit"]).unwrap_or(0.0),
            uri: String::new(),
        });
    }
    Ok(out)
}

/// GetStreamUriResponse's URI, without any user information in it.
pub fn parse_stream_uri(r: &Element) -> Result<String, SoapError> {
    let uri = r
        .text_at(&["MediaUri", "Uri"])
        .filter(|u| !u.is_empty())
        .ok_or_else(|| missing("MediaUri/Uri"))?;
    Ok(strip_userinfo(uri))
}

/// Removes `user:password@` from a URI: stream URIs are returned to API
/// clients, which must never see credentials.
pub fn strip_userinfo(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return uri.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => uri.to_string(),
    }
}

/// Makes SOAP calls over HTTP.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Self {
        Client { http: reqwest::Client::new(), timeout }
    }

    /// POSTs `body` (in an envelope) to `url`; returns the answer's first
    /// body element.
    pub async fn call(
        &self,
        url: &str,
        action: &str,
        body: &str,
        creds: Option<&Credentials>,
    ) -> Result<Element, SoapError> {
        let req = self
            .http
            .post(url)
            .header(
                "content-type",
                format!(r#"application/soap+xml; charset=utf-8; action="{action}""#),
            )
            .body(envelope(body, creds))
            .timeout(self.timeout)
            .send();
        let text = async {
            let resp = req.await?;
            let status = resp.status();
            Ok::<_, reqwest::Error>((status, resp.text().await?))
        };
        let (status, text) = match tokio::time::timeout(self.timeout, text).await {
            Err(_) => return Err(SoapError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_timeout() => return Err(SoapError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_connect() || e.is_builder() || e.is_request() => {
                return Err(SoapError::Unreachable(crate::error::chain(&e)));
            }
            Ok(Err(e)) => return Err(SoapError::Malformed(crate::error::chain(&e))),
            Ok(Ok(r)) => r,
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            let msg = "HTTP 401 (the camera wants HTTP authentication, which is not supported)"
                .to_string();
            return Err(if creds.is_some() {
                SoapError::CredentialsRefused(msg)
            } else {
                SoapError::CredentialsNeeded(msg)
            });
        }
        match read_answer(&text, creds.is_some()) {
            Err(SoapError::Malformed(m)) if !status.is_success() => {
                Err(SoapError::Malformed(format!("HTTP {status}: {m}")))
            }
            other => other,
        }
    }

    pub async fn device_info(
        &self,
        xaddr: &str,
        creds: Option<&Credentials>,
    ) -> Result<DeviceInfo, SoapError> {
        let r = self
            .call(
                xaddr,
                &format!("{NS_DEVICE}/GetDeviceInformation"),
                "<tds:GetDeviceInformation/>",
                creds,
            )
            .await?;
        parse_device_info(&r)
    }

    /// Every video profile with its stream URI.
    pub async fn streams(
        &self,
        xaddr: &str,
        creds: Option<&Credentials>,
    ) -> Result<Vec<Stream>, SoapError> {
        let caps = self
            .call(
                xaddr,
                &format!("{NS_DEVICE}/GetCapabilities"),
                "<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>",
                creds,
            )
            .await?;
        let media = parse_media_xaddr(&caps).unwrap_or_else(|| xaddr.to_string());
        let r = self
            .call(&media, &format!("{NS_MEDIA}/GetProfiles"), "<trt:GetProfiles/>", creds)
            .await?;
        let mut streams = parse_profiles(&r)?;
        for s in &mut streams {
            let r = self
                .call(
                    &media,
                    &format!("{NS_MEDIA}/GetStreamUri"),
                    &get_stream_uri_body(&s.token),
                    creds,
                )
                .await?;
            s.uri = parse_stream_uri(&r)?;
        }
        Ok(streams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently: `python3 -c "import hashlib,base64;
    /// print(base64.b64encode(hashlib.sha1(bytes(range(16)) +
    /// b'2026-01-02T03:04:05.678Z' + b's3cret').digest()).decode())"`.
    #[test]
    fn password_digest_matches_a_known_vector() {
        let nonce: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            password_digest(&nonce, "2026-01-02T03:04:05.678Z", "s3cret"),
            "cFMA8+n7LT6n5C/apDAw0viMn7A="
        );
    }

    #[test]
    fn the_security_header_carries_nonce_created_and_no_password() {
        let creds = Credentials { username: "ad<min".into(), password: "s3cret".into() };
        let h = security_header(&creds, &[0u8; 16], "2026-01-02T03:04:05.678Z");
        let el = xml::parse(&h).unwrap();
        let token = el.child("UsernameToken").unwrap();
        assert_eq!(token.text_at(&["Username"]), Some("ad<min"));
        assert_eq!(token.text_at(&["Nonce"]), Some("AAAAAAAAAAAAAAAAAAAAAA=="));
        assert_eq!(token.text_at(&["Created"]), Some("2026-01-02T03:04:05.678Z"));
        assert!(
            token.child("Password").unwrap().attr("Type").unwrap().ends_with("#PasswordDigest")
        );
        assert!(!h.contains("s3cret"), "the password itself is never sent");
    }

    const PROFILES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trt="http://www.onvif.org/ver10/media/wsdl">
<SOAP-ENV:Body><trt:GetProfilesResponse>
<trt:Profiles fixed="true" token="Profile_1"><tt:Name>mainStream</tt:Name>
<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="VideoEncoderToken_1"><tt:Name>VideoEncoder_1</tt:Name><tt:Encoding>H264</tt:Encoding>
<tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality>
<tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl>
<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264></tt:VideoEncoderConfiguration></trt:Profiles>
<trt:Profiles fixed="false" token="Audio_only"><tt:Name>audio</tt:Name></trt:Profiles>
<trt:Profiles token="Profile_2"><tt:Name>subStream</tt:Name><tt:VideoEncoderConfiguration token="V2"><tt:Encoding>H265</tt:Encoding>
<tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>12.5</tt:FrameRateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles>
</trt:GetProfilesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    #[test]
    fn profiles_are_read_with_resolution_rate_and_codec() {
        let r = read_answer(PROFILES, true).unwrap();
        let s = parse_profiles(&r).unwrap();
        let got: Vec<_> = s
            .iter()
            .map(|s| {
                (s.token.as_str(), s.name.as_str(), s.codec.as_str(), s.width, s.height, s.fps)
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Profile_1", "mainStream", "H264", 1920, 1080, 25.0),
                ("Profile_2", "subStream", "H265", 640, 360, 12.5)
            ]
        );
    }

    #[test]
    fn device_information_and_stream_uri_are_read() {
        let info = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body>
            <tds:GetDeviceInformationResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
            <tds:Manufacturer>ACME</tds:Manufacturer><tds:Model>IPC-2000</tds:Model><tds:FirmwareVersion>V5.5.0 build 180920</tds:FirmwareVersion>
            <tds:SerialNumber>DS-2CD2042WD20180101AAWR123</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>
            </tds:GetDeviceInformationResponse></s:Body></s:Envelope>"#;
        let d = parse_device_info(&read_answer(info, false).unwrap()).unwrap();
        assert_eq!(
            (d.manufacturer.as_str(), d.model.as_str(), d.hardware_id.as_str()),
            ("ACME", "IPC-2000", "88")
        );
        let uri = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><trt:GetStreamUriResponse xmlns:trt="m" xmlns:tt="t">
            <trt:MediaUri><tt:Uri>rtsp://admin:pw@192.0.2.7:554/Streaming/Channels/101?transportmode=unicast&amp;profile=Profile_1</tt:Uri>
            <tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri>
            </trt:GetStreamUriResponse></s:Body></s:Envelope>"#;
        assert_eq!(
            parse_stream_uri(&read_answer(uri, true).unwrap()).unwrap(),
            "rtsp://192.0.2.7:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"
        );
    }

    fn fault(code: &str, sub: &str, reason: &str) -> String {
        format!(
            r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>
            <env:Code><env:Value>{code}</env:Value><env:Subcode><env:Value>{sub}</env:Value></env:Subcode></env:Code>
            <env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#
        )
    }

    #[test]
    fn bad_answers_are_classified() {
        let not_auth = fault("env:Sender", "ter:NotAuthorized", "Sender not Authorized");
        let action =
            fault("env:Receiver", "ter:ActionNotSupported", "Optional Action Not Implemented");
        let cases: Vec<(&str, String, bool, SoapError)> = vec![
            (
                "no credentials",
                not_auth.clone(),
                false,
                SoapError::CredentialsNeeded("Sender/NotAuthorized (Sender not Authorized)".into()),
            ),
            (
                "wrong credentials",
                not_auth,
                true,
                SoapError::CredentialsRefused(
                    "Sender/NotAuthorized (Sender not Authorized)".into(),
                ),
            ),
            (
                "other fault",
                action,
                true,
                SoapError::Fault(
                    "Receiver/ActionNotSupported (Optional Action Not Implemented)".into(),
                ),
            ),
            (
                "truncated",
                PROFILES[..PROFILES.len() / 2].to_string(),
                true,
                SoapError::Malformed(String::new()),
            ),
            (
                "not soap",
                "<html><body>hi</body></html>".into(),
                true,
                SoapError::Malformed(String::new()),
            ),
            ("not xml", "Internal error".into(), true, SoapError::Malformed(String::new())),
        ];
        for (name, text, creds, want) in cases {
            let got = read_answer(&text, creds).expect_err(name);
            match (&got, &want) {
                (SoapError::Malformed(_), SoapError::Malformed(_)) => {}
                _ => assert_eq!(got, want, "{name}"),
            }
        }
    }

    #[test]
    fn user_information_is_stripped_from_uris() {
        for (given, want) in [
            ("rtsp://u:p@h:554/a", "rtsp://h:554/a"),
            ("rtsp://h/a@b", "rtsp://h/a@b"),
            ("rtsp://u@h", "rtsp://h"),
            ("rtsp://h:554/x", "rtsp://h:554/x"),
        ] {
            assert_eq!(strip_userinfo(given), want);
        }
    }
}
