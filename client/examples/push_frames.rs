//! Pushes the JPEG images of a directory, in name order, into an instance whose input
//! is `Manual` (no camera: the program supplies the frames), and prints the objects
//! the server detects and tracks in them.
//!
//! ```sh
//! cargo run -p rt-client --example push_frames -- ./frames
//! ```

#![allow(clippy::print_stdout)] // An example shows its results on stdout.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rt_client::types::{InputType, InputWrite, InstanceWrite, SseEventPayload};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let base = std::env::var("RT_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3546".into());
    let client = rt_client::Client::builder(base).build()?;
    let dir = std::env::args().nth(1).ok_or("usage: push_frames DIRECTORY")?;
    let mut files: Vec<std::path::PathBuf> =
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<std::io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "jpg" || e == "jpeg"));
    files.sort();

    let (name, solution) = (Some("push_frames example".into()), Some("securt".into()));
    // debug_mode: every track update is sent, not only those in an analytics event.
    let instance = InstanceWrite { name, solution, debug_mode: Some(true), ..Default::default() };
    let id = client.create_instance(&instance).await?.into_inner().instance_id;
    client.set_instance_input(&id, &InputWrite { type_: InputType::Manual, uri: None }).await?;
    client.start_instance(&id).await?;

    // Like a live camera, the pipeline works on the newest frame and skips older ones it
    // has not got to: to have every frame analysed, push the next one once the last one
    // is processed (`framesProcessed`).
    for (pushed, file) in (1..).zip(&files) {
        let jpeg = bytes::Bytes::from(std::fs::read(file)?);
        // The capture time, carried by the events this frame yields (None: arrival time).
        let now = Some(chrono::Utc::now().timestamp_millis());
        // 409 also means "the queue is full": the detector has not caught up yet.
        for attempt in 1.. {
            match client.push_compressed_frame(&id, jpeg.clone(), now).await {
                Ok(_) => break,
                Err(rt_client::Error::ErrorResponse(e)) if e.status() == 409 && attempt < 100 => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(e.into()),
            }
        }
        let given_up = Instant::now() + Duration::from_secs(10);
        while client.securt_get_stats(&id).await?.into_inner().frames_processed < pushed
            && Instant::now() < given_up
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    println!("pushed {} frames", files.len());

    // Read the instance's events from its first one (Last-Event-ID 0) until no new
    // track has come for 3 s: the frames are processed by then.
    let mut events = client.event_stream(&id).last_event_id("0").build();
    let (mut tracks, mut quiet) = (HashSet::new(), Instant::now());
    while quiet.elapsed() < Duration::from_secs(3) {
        let Ok(Some(Ok(event))) = tokio::time::timeout(Duration::from_secs(1), events.next()).await
        else {
            continue;
        };
        if let SseEventPayload::TrackEvent(t) = event.payload {
            quiet = Instant::now();
            if tracks.insert(t.tracking_id) {
                let (at, confidence) = (t.location, t.detection_confidence);
                println!(
                    "{} {} {confidence:.2} at {:.2},{:.2}",
                    t.object_class, t.tracking_id, at.x, at.y
                );
            }
        }
    }
    println!("{} objects tracked", tracks.len());
    client.delete_instance(&id).await?;
    Ok(())
}
