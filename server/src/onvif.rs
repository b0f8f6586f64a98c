//! The `/v1/onvif` operations over the engine's ONVIF registry: domain <->
//! wire conversions. Passwords go in (credentials) and never come out:
//! [`camera`] copies only the user name and whether credentials exist.

use rt_api::onvif as wire;
use rt_pipeline::onvif::{self, Camera, Credentials, DeviceState};

use crate::context::ServerContext;
use crate::error::Error;

/// A discovery's default `timeout` (seconds), from the contract.
const DEFAULT_DISCOVERY_TIMEOUT_S: u32 = 5;

pub async fn discover(ctx: &ServerContext, q: wire::DiscoverQuery) -> Result<(), Error> {
    ctx.onvif.discover(q.timeout.unwrap_or(DEFAULT_DISCOVERY_TIMEOUT_S)).await?;
    Ok(())
}

pub fn cameras(ctx: &ServerContext) -> Vec<wire::OnvifCamera> {
    ctx.onvif.cameras().into_iter().map(camera).collect()
}

fn camera(c: Camera) -> wire::OnvifCamera {
    let info = c.info.unwrap_or_default();
    let answered = !info.manufacturer.is_empty();
    let field = |s: String| if answered { Some(s) } else { None };
    wire::OnvifCamera {
        uuid: c.uuid,
        address: c.address,
        xaddr: c.xaddr,
        name: c.name,
        scopes: c.scopes,
        state: match c.state {
            DeviceState::Ok => wire::OnvifDeviceState::Ok,
            DeviceState::Unauthorized => wire::OnvifDeviceState::Unauthorized,
            DeviceState::Unknown => wire::OnvifDeviceState::Unknown,
        },
        message: c.message,
        manufacturer: field(info.manufacturer),
        model: field(info.model),
        firmware_version: field(info.firmware_version),
        serial_number: field(info.serial_number),
        hardware_id: field(info.hardware_id),
        has_credentials: c.username.is_some(),
        username: c.username,
    }
}

pub async fn streams(ctx: &ServerContext, id: &str) -> Result<Vec<wire::OnvifStream>, Error> {
    let streams = ctx.onvif.streams(id).await?;
    Ok(streams.into_iter().map(stream).collect())
}

fn stream(s: onvif::Stream) -> wire::OnvifStream {
    wire::OnvifStream {
        token: s.token,
        name: s.name,
        width: s.width,
        height: s.height,
        fps: s.fps,
        codec: s.codec,
        uri: s.uri,
    }
}

pub async fn set_credentials(
    ctx: &ServerContext,
    id: &str,
    c: wire::OnvifCredentials,
) -> Result<(), Error> {
    if c.username.is_empty() {
        return Err(rt_pipeline::Error::invalid("username", "must not be empty").into());
    }
    let creds = Credentials { username: c.username, password: c.password };
    ctx.onvif.set_credentials(id, creds).await?;
    Ok(())
}
