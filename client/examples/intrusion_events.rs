//! Watches a video for people: creates an instance on a file, draws an intrusion
//! area and a crossing line, and prints the analytics events as they arrive, typed.
//!
//! ```sh
//! cargo run -p rt-client --example intrusion_events -- video.avi [COUNT]
//! cargo run -p rt-client --example intrusion_events -- --resume INSTANCE LAST_ID [COUNT]
//! ```
//!
//! It stops after COUNT analytics events (default: never) and keeps the instance:
//! `--resume` prints what happened after event LAST_ID, missing nothing in between.

#![allow(clippy::print_stdout)] // An example shows its results on stdout.

use futures::StreamExt;
use rt_client::types::{self, Coordinate, InputType, ObjectClass::Person, SseEventPayload as P};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let base = std::env::var("RT_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3546".into());
    let client = rt_client::Client::builder(base).build()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (id, after, count) = match args.as_slice() {
        [flag, id, after, rest @ ..] if flag == "--resume" => (id.parse()?, after.clone(), rest),
        [video, rest @ ..] => (watch(&client, video).await?, "0".to_string(), rest),
        [] => return Err("usage: intrusion_events VIDEO|--resume INSTANCE LAST_ID [COUNT]".into()),
    };
    let count: usize = count.first().map_or(Ok(usize::MAX), |c| c.parse())?;

    // The stream sends `Last-Event-ID` (0: from the start; or where a previous run
    // stopped), and after a network fault it reconnects and resumes by itself.
    let mut events = client.event_stream(&id).last_event_id(after).build();
    let (mut seen, mut last) = (0, String::new());
    while seen < count {
        let Some(item) = events.next().await else { break };
        let Ok(event) = item.inspect_err(|error| eprintln!("{error}")) else { continue };
        let (n, name) = (event.id.unwrap_or_default(), event.name);
        let what = match event.payload {
            P::AreaAnalyticsEvent(e) => format!("{}: {}", e.area_name, class(e.object_class)),
            P::AreaAnalyticsEndEvent(e) => format!("{}: {}", e.area_name, class(e.object_class)),
            P::LineAnalyticsEvent(e) => {
                format!("{}: {} {}", e.line_name, e.object_class, e.direction)
            }
            P::LaggedEvent(e) => format!("missed {} events: reading too slowly", e.missed),
            _ => continue, // Tracks and statistics: not what this example is about.
        };
        println!("{n} {name} {what}");
        (seen, last) = (seen + 1, if n.is_empty() { last } else { n }); // `lagged` has no id.
    }
    println!("resume with: --resume {id} {last}");
    Ok(())
}

/// Area events name the object's class when the rule is about one object.
fn class(class: Option<types::ObjectClass>) -> String {
    class.map_or("-".into(), |c| c.to_string())
}

/// A SecuRT instance on `video`, with an intrusion area and a crossing line, running.
async fn watch(client: &rt_client::Client, video: &str) -> Result<uuid::Uuid> {
    let instance = types::SecuRtInstanceCreate::named("Yard");
    let id = client.securt_create_instance(&instance).await?.into_inner().instance_id;
    let uri = Some(std::fs::canonicalize(video)?.display().to_string());
    client.set_instance_input(&id, &types::InputWrite { type_: InputType::File, uri }).await?;
    // Coordinates are fractions of the image's width and height, from its top-left.
    let at = |x, y| Coordinate { x, y };
    let coordinates = vec![at(0.05, 0.05), at(0.95, 0.05), at(0.95, 0.95), at(0.05, 0.95)].into();
    let (name, classes, color) = (Some("Fence".to_string()), vec![Person], None);
    let area = types::AreaIntrusionWrite { coordinates, name, classes, color };
    client.securt_create_area_intrusion(&id, &area).await?;
    let (name, classes, direction) =
        (Some("Gate".into()), vec![Person], Some(types::LineDirection::Both));
    let coordinates = [at(0.5, 0.0), at(0.5, 1.0)].into();
    let line = types::LineCrossingWrite { coordinates, name, classes, direction, color: None };
    client.securt_create_line_crossing(&id, &line).await?;
    client.start_instance(&id).await?;
    Ok(id)
}
