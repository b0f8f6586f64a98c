//! `GET .../mjpeg`: an instance's live view as Motion JPEG
//! (`multipart/x-mixed-replace`), the web panel's `<img src>`.
//!
//! Each part is one processed frame, overlay drawn, as the pipeline
//! encoded it for its watchers. The newest frame wins: the forwarding task
//! waits for the connection to take a part, and whatever frames came in
//! meanwhile are skipped, so a slow client only ever slows itself. The
//! pipeline encodes frames only while someone watches; the stream ends when
//! the client goes, the instance is deleted or the server shuts down.

use bytes::Bytes;
use dropshot::Body;
use http_body::Frame;
use rt_pipeline::runtime::LiveFrame;
use tokio::sync::{mpsc, watch};

use crate::sse::{self, Chunk};
use crate::streams::StreamPermit;

/// The multipart boundary.
const BOUNDARY: &str = "frame";

/// One part: its headers, the JPEG, and the line that ends it.
fn part(f: &LiveFrame) -> Bytes {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Time: {}\r\n\r\n",
        f.jpeg.len(),
        f.decoded_at_ms
    );
    let mut out = Vec::with_capacity(head.len() + f.jpeg.len() + 2);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&f.jpeg);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// The streaming response for one client.
pub fn response(
    mut frames: watch::Receiver<Option<LiveFrame>>,
    permit: StreamPermit,
    shutdown: watch::Receiver<bool>,
) -> http::Response<Body> {
    // One part waiting at most: the newest frame is taken only when the
    // connection has room for it.
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    sse::spawn_until_shutdown(shutdown, async move {
        // The frame at hand first (a running instance shows at once).
        frames.mark_changed();
        loop {
            tokio::select! {
                r = frames.changed() => if r.is_err() { return },
                // The client left while no frame came.
                () = tx.closed() => return,
            }
            let next = frames.borrow_and_update().as_ref().map(part);
            if let Some(p) = next
                && tx.send(Ok(Frame::data(p))).await.is_err()
            {
                return;
            }
        }
    });
    let parts = futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|c| (c, rx)) });
    sse::streaming(&format!("multipart/x-mixed-replace; boundary={BOUNDARY}"), parts, permit)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_part_is_headers_then_the_jpeg() {
        let f =
            LiveFrame { jpeg: Arc::new(vec![0xFF, 0xD8, 1, 2]), decoded_at_ms: 1_700_000_000_123 };
        let p = part(&f);
        let head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\nX-Frame-Time: 1700000000123\r\n\r\n";
        assert_eq!(&p[..head.len()], head);
        assert_eq!(&p[head.len()..], &[0xFF, 0xD8, 1, 2, b'\r', b'\n']);
    }
}
