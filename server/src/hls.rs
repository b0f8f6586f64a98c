//! HLS output: enabling it answers the playlist URI; the playlists and
//! segments the pipeline writes are served from the HLS directory.

use std::path::Path;

use uuid::Uuid;

use crate::context::ServerContext;
use crate::error::Error;

/// `POST .../output/hls`: the playlist URL when enabling, `None` when
/// disabling. `host` is the request's `Host` header (how the client
/// reached this server).
pub fn set_output(
    ctx: &ServerContext,
    id: Uuid,
    enabled: bool,
    host: Option<&str>,
) -> Result<Option<String>, Error> {
    ctx.engine.set_output_hls(id, enabled)?;
    Ok(enabled.then(|| {
        let host = host.unwrap_or("127.0.0.1:3546");
        format!("http://{host}/hls/{id}.m3u8")
    }))
}

/// `GET /hls/{file}`: the file's bytes and content type.
pub async fn file(dir: &Path, name: &str) -> Result<(Vec<u8>, &'static str), Error> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    let kind = if name.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if name.ends_with(".ts") {
        "video/mp2t"
    } else {
        ""
    };
    if !plain || name.contains("..") {
        return Err(Error::InvalidFileName(name.into()));
    }
    if kind.is_empty() {
        return Err(Error::FileNotFound(name.into()));
    }
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => Ok((bytes, kind)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::FileNotFound(name.into())),
        Err(e) => Err(Error::Internal(format!("reading HLS file {name}: {e}"))),
    }
}
