//! `POST .../push/compressed` and `.../push/encoded/{codecId}`: frames a
//! client pushes to an instance whose input is `Manual`, as a multipart
//! form with `frame` (the file) and an optional `timestamp` (ms). Images
//! are decoded here, off the async threads, so that one that cannot be
//! decoded is refused with its reason (400): only once the instance is
//! known to take a frame (a refused push costs no decoding), and at most
//! as many at once as there are cores (a burst of large images queues
//! rather than taking every core and its memory at once).

use std::sync::LazyLock;

use dropshot::MultipartBody;
use rt_pipeline::runtime::{PushedData, PushedFrame, PushedKind};
use rt_pipeline::still;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::context::ServerContext;
use crate::error::Error;

/// Images being decoded at once.
static DECODING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// The last millisecond a pushed `timestamp` may be: the end of 9999
/// (the contract's maximum; 0, the Unix epoch, is its minimum).
const LAST_MS: i64 = 253_402_300_799_999;

/// Reads the form and hands the frame to the instance.
pub async fn push(
    ctx: &ServerContext,
    id: Uuid,
    kind: PushedKind,
    mut body: MultipartBody,
) -> Result<(), Error> {
    // Unknown instance first: a 404 is more useful than a form error.
    ctx.engine.get(id)?;
    let bad = |message: String| Error::Engine(rt_pipeline::Error::invalid("frame", message));
    let mut data = None;
    let mut timestamp_ms = None;
    while let Some(field) =
        body.content.next_field().await.map_err(|e| bad(format!("invalid multipart form: {e}")))?
    {
        match field.name() {
            Some("frame") => {
                let bytes = field.bytes().await.map_err(|e| bad(format!("unreadable: {e}")))?;
                data = Some(bytes.to_vec());
            }
            Some("timestamp") => {
                let text =
                    field.text().await.map_err(|e| bad(format!("unreadable timestamp: {e}")))?;
                let ms = text.trim().parse::<i64>().ok().filter(|ms| (0..=LAST_MS).contains(ms));
                timestamp_ms = Some(ms.ok_or_else(|| {
                    Error::Engine(rt_pipeline::Error::invalid(
                        "timestamp",
                        format!(
                            "'{text}' is not a time in milliseconds since the Unix epoch, from 0 \
                             to {LAST_MS} (the end of 9999)"
                        ),
                    ))
                })?);
            }
            _ => {}
        }
    }
    let data = data.ok_or(Error::Missing("frame"))?;
    if data.is_empty() {
        return Err(bad("is empty".into()));
    }
    let data = match kind {
        PushedKind::Image => {
            ctx.engine.ready_for_push(id)?;
            let _turn = DECODING
                .acquire()
                .await
                .map_err(|e| Error::Internal(format!("decoding a pushed image: {e}")))?;
            let decoded = tokio::task::spawn_blocking(move || still::decode(&data))
                .await
                .map_err(|e| Error::Internal(format!("decoding a pushed image: {e}")))?;
            PushedData::Image(decoded?)
        }
        PushedKind::H264 => PushedData::H264(data),
        PushedKind::H265 => PushedData::H265(data),
    };
    Ok(ctx.engine.push(id, PushedFrame { data, timestamp_ms })?)
}
