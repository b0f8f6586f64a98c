//! Yesterday in numbers: the analytics events the server stored yesterday (UTC), then
//! how many of each type came in each hour, from the `/v1/database` queries.
//!
//! ```sh
//! cargo run -p rt-client --example database_report           # or: -- 2024-11-27
//! ```

#![allow(clippy::print_stdout)] // An example shows its results on stdout.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, Utc};
use rt_client::types::{self, IntervalUnit, MetricFunction, TimeRange};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let base = std::env::var("RT_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3546".into());
    let client = rt_client::Client::builder(base).build()?;
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let day: NaiveDate = std::env::args().nth(1).map_or(Ok(yesterday), |d| d.parse())?;
    let start_time = day.and_hms_opt(0, 0, 0).ok_or("midnight")?.and_utc();
    let range = TimeRange { start_time, end_time: start_time + Days::new(1) };

    // The events, oldest first, a page of 1000 at a time.
    let columns = ["id", "system_timestamp", "event_type", "trigger_name", "object_class"];
    let mut query = types::EventsQuery {
        time_range: Some(range.clone()),
        columns: columns.map(String::from).to_vec(),
        order_by: "system_timestamp asc".into(),
        limit: 1000.try_into()?,
        ..Default::default()
    };
    loop {
        let page = client.database_query_events(&query).await?.into_inner().data;
        for e in &page {
            let at = e.system_timestamp.map(|t| t.format("%H:%M:%S").to_string());
            let (what, class) = (e.event_type.as_deref(), e.object_class.map(|c| c.to_string()));
            let trigger = e.trigger_name.as_deref().unwrap_or_default();
            println!(
                "{} {:<14} {trigger:<12} {}",
                at.unwrap_or_default(),
                what.unwrap_or("?"),
                class.unwrap_or_default()
            );
        }
        if page.len() < 1000 {
            break;
        }
        query.offset += 1000;
    }

    // Counts per hour and event type: the server aggregates, buckets aligned to UTC.
    let count = types::Metric { function: MetricFunction::Count, field: None };
    let hourly = types::AnalyticsQuery {
        metrics: HashMap::from([("events".to_string(), count)]),
        group_by: vec!["event_type".into()],
        interval: Some(types::Interval { unit: IntervalUnit::Hour, size: 1.try_into()? }),
        time_range: Some(range),
        filters: Default::default(),
    };
    println!("\nhour   event type       events");
    for row in client.database_query_analytics(&hourly).await?.into_inner().data {
        let hour = row["bucket"].as_str().and_then(|b| b.get(11..16)).unwrap_or("?");
        let what = row["event_type"].as_str().unwrap_or("?");
        println!("{hour}  {what:<16} {}", row["events"]);
    }
    Ok(())
}
