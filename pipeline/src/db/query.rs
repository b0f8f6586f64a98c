//! The `/v1/database` queries: stored events, track positions and
//! aggregates over events.
//!
//! A request is first checked and turned into a [`Plan`] (pure: the SQL
//! text and its bound values), then run on either backend. Column and sort
//! names only ever come from the fixed tables [`EVENT_COLUMNS`] and
//! [`TRACK_COLUMNS`]; every value is a bound parameter. Each refusal is an
//! [`Error::Invalid`] naming the field (`filters.foo`, `limit`, ...).
//!
//! Ordering always ends with `id` so that pages are stable; the `afterId`
//! cursor continues after that row in the requested order (a row-value
//! comparison against the cursor row), so paging while rows are added
//! gives no duplicate and no gap. Nullable columns sort through
//! `COALESCE`, which makes NULLs sort the same on SQLite and PostgreSQL.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use sqlx::Row;

use super::{Backend, Db, db_error, on_pool};
use crate::error::{Error, Result};

/// What a column holds, which says how it is filtered, sorted and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `BIGINT`, never NULL (`id`).
    Id,
    Int,
    Float,
    Text,
    /// Microseconds in `BIGINT`, shown as ISO-8601 (UTC).
    Time,
    /// JSON text, shown as JSON; not filterable or sortable.
    Json,
}

/// `(name, kind)` of every events column, in output order.
pub const EVENT_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Id),
    ("event_id", Kind::Text),
    ("event_type", Kind::Text),
    ("instance_id", Kind::Text),
    ("trigger_id", Kind::Text),
    ("trigger_name", Kind::Text),
    ("tracking_id", Kind::Text),
    ("object_class", Kind::Text),
    ("direction", Kind::Text),
    ("count", Kind::Int),
    ("event_duration_ms", Kind::Int),
    ("system_timestamp", Kind::Time),
    ("payload", Kind::Json),
];

/// `(name, kind)` of every tracks column, in output order.
pub const TRACK_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Id),
    ("instance_id", Kind::Text),
    ("tracking_id", Kind::Text),
    ("object_class", Kind::Text),
    ("confidence", Kind::Float),
    ("system_timestamp", Kind::Time),
    ("x", Kind::Float),
    ("y", Kind::Float),
    ("width", Kind::Float),
    ("height", Kind::Float),
];

/// Largest page.
pub const MAX_LIMIT: i64 = 10_000;

/// A time range as given (ISO-8601 strings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeRange {
    pub start: String,
    pub end: String,
}

/// A rows query (events or tracks), as received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowsQuery {
    pub time_range: Option<TimeRange>,
    pub filters: Map<String, Value>,
    pub columns: Option<Vec<String>>,
    pub order_by: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub after_id: Option<i64>,
}

/// Which table a rows query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Events,
    Tracks,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Tracks => "tracks",
        }
    }
    fn columns(self) -> &'static [(&'static str, Kind)] {
        match self {
            Table::Events => EVENT_COLUMNS,
            Table::Tracks => TRACK_COLUMNS,
        }
    }
    fn default_order(self) -> &'static str {
        match self {
            Table::Events => "system_timestamp desc",
            Table::Tracks => "system_timestamp asc",
        }
    }
    fn default_limit(self) -> i64 {
        match self {
            Table::Events => 100,
            Table::Tracks => 1000,
        }
    }
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Checked SQL with its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub sql: String,
    pub binds: Vec<Bind>,
    /// The selected columns, in order.
    pub columns: Vec<(&'static str, Kind)>,
}

/// Collects bound values and hands out `$N` placeholders.
#[derive(Debug, Default)]
struct Binds(Vec<Bind>);

impl Binds {
    fn push(&mut self, b: Bind) -> String {
        self.0.push(b);
        format!("${}", self.0.len())
    }
}

fn column(table: Table, field: &str, name: &str) -> Result<(&'static str, Kind)> {
    table.columns().iter().copied().find(|(c, _)| *c == name).ok_or_else(|| {
        let known: Vec<&str> = table.columns().iter().map(|(c, _)| *c).collect();
        Error::invalid(field, format!("unknown column '{name}' (known: {})", known.join(", ")))
    })
}

/// Parses an ISO-8601 time with a timezone into microseconds.
pub fn parse_time(field: &str, s: &str) -> Result<i64> {
    DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros()).map_err(|e| {
        Error::invalid(field, format!("'{s}' is not an ISO-8601 time with a timezone: {e}"))
    })
}

/// Microseconds -> ISO-8601 UTC (`2024-11-27T08:00:00.123456Z`, trailing
/// zeros of the fraction trimmed to milliseconds).
pub fn format_time(micros: i64) -> String {
    let t = Utc.timestamp_micros(micros).single().unwrap_or_default();
    if micros % 1000 == 0 {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    } else {
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }
}

fn time_range(r: &Option<TimeRange>) -> Result<Option<(i64, i64)>> {
    let Some(r) = r else { return Ok(None) };
    let start = parse_time("timeRange.startTime", &r.start)?;
    let end = parse_time("timeRange.endTime", &r.end)?;
    if start > end {
        return Err(Error::invalid("timeRange", "startTime is after endTime"));
    }
    Ok(Some((start, end)))
}

/// The bound value of `v` for a column of `kind`.
fn bind_value(field: &str, kind: Kind, v: &Value) -> Result<Bind> {
    let bad = || Error::invalid(field, format!("{v} is not a valid value for this column"));
    Ok(match kind {
        Kind::Id | Kind::Int => Bind::Int(v.as_i64().ok_or_else(bad)?),
        Kind::Float => Bind::Float(v.as_f64().ok_or_else(bad)?),
        Kind::Text => match v {
            Value::String(s) => Bind::Text(s.clone()),
            Value::Number(n) => Bind::Text(n.to_string()),
            _ => return Err(bad()),
        },
        Kind::Time => Bind::Int(parse_time(field, v.as_str().ok_or_else(bad)?)?),
        Kind::Json => return Err(Error::invalid(field, "cannot filter on this column")),
    })
}

/// `WHERE` terms for `filters` and the time range.
fn conditions(
    table: Table,
    filters: &Map<String, Value>,
    range: Option<(i64, i64)>,
    binds: &mut Binds,
) -> Result<Vec<String>> {
    let mut terms = Vec::new();
    if let Some((start, end)) = range {
        let (s, e) = (binds.push(Bind::Int(start)), binds.push(Bind::Int(end)));
        terms.push(format!("system_timestamp >= {s} AND system_timestamp < {e}"));
    }
    for (name, v) in filters {
        let field = format!("filters.{name}");
        let (col, kind) = column(table, &field, name)?;
        match v {
            Value::Null => terms.push(format!("{col} IS NULL")),
            Value::Array(items) if items.is_empty() => terms.push("1 = 0".into()),
            Value::Array(items) => {
                let ps = items
                    .iter()
                    .map(|i| Ok(binds.push(bind_value(&field, kind, i)?)))
                    .collect::<Result<Vec<_>>>()?;
                terms.push(format!("{col} IN ({})", ps.join(", ")));
            }
            v => {
                let p = binds.push(bind_value(&field, kind, v)?);
                terms.push(format!("{col} = {p}"));
            }
        }
    }
    Ok(terms)
}

/// The sort expression of a column: NULLs sort as the smallest value on
/// both backends.
fn sort_expr(col: &str, kind: Kind) -> String {
    match kind {
        Kind::Id | Kind::Time => col.to_string(),
        Kind::Int => format!("COALESCE({col}, -9223372036854775807)"),
        Kind::Float => format!("COALESCE({col}, -1e308)"),
        Kind::Text | Kind::Json => format!("COALESCE({col}, '')"),
    }
}

/// Checks a rows query and builds its SQL.
pub fn plan_rows(table: Table, q: &RowsQuery) -> Result<Plan> {
    let range = time_range(&q.time_range)?;
    let limit = q.limit.unwrap_or(table.default_limit());
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be 1 to {MAX_LIMIT}, not {limit}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    if q.offset.is_some() && q.after_id.is_some() {
        return Err(Error::invalid("afterId", "cannot be used together with offset"));
    }
    let columns: Vec<(&'static str, Kind)> = match &q.columns {
        None => table.columns().to_vec(),
        Some(cols) if cols.is_empty() => {
            return Err(Error::invalid("columns", "must name at least one column"));
        }
        Some(cols) => cols.iter().map(|c| column(table, "columns", c)).collect::<Result<_>>()?,
    };
    let order = q.order_by.as_deref().unwrap_or(table.default_order());
    let mut words = order.split_whitespace();
    let (Some(col_name), dir, None) = (words.next(), words.next(), words.next()) else {
        return Err(Error::invalid("orderBy", format!("'{order}' is not '<column> asc|desc'")));
    };
    let (col, kind) = column(table, "orderBy", col_name)?;
    if kind == Kind::Json {
        return Err(Error::invalid("orderBy", format!("cannot sort by '{col}'")));
    }
    let desc = match dir.map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(Error::invalid("orderBy", format!("'{other}' is not asc or desc")));
        }
    };
    let mut binds = Binds::default();
    let mut terms = conditions(table, &q.filters, range, &mut binds)?;
    let key = sort_expr(col, kind);
    let (dir, cmp) = if desc { ("DESC", "<") } else { ("ASC", ">") };
    if let Some(after) = q.after_id {
        let p = binds.push(Bind::Int(after));
        let t = table.name();
        let cursor = format!("(SELECT {key} FROM {t} WHERE id = {p})");
        terms.push(if col == "id" {
            format!("id {cmp} {p}")
        } else {
            format!("({key} {cmp} {cursor} OR ({key} = {cursor} AND id {cmp} {p}))")
        });
    }
    let select: Vec<String> = columns.iter().map(|(c, _)| (*c).to_string()).collect();
    let mut sql = format!("SELECT {} FROM {}", select.join(", "), table.name());
    if !terms.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&terms.join(" AND "));
    }
    let tie = if col == "id" { String::new() } else { format!(", id {dir}") };
    let (l, o) = (binds.push(Bind::Int(limit)), binds.push(Bind::Int(offset)));
    sql.push_str(&format!(" ORDER BY {key} {dir}{tie} LIMIT {l} OFFSET {o}"));
    Ok(Plan { sql, binds: binds.0, columns })
}

/// One metric of an analytics query.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// count, sum, avg, min, max or percentage.
    pub function: String,
    pub field: Option<String>,
}

/// An analytics query, as received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalyticsQuery {
    /// Result name -> metric, in the order given.
    pub metrics: Vec<(String, Metric)>,
    pub time_range: Option<TimeRange>,
    pub filters: Map<String, Value>,
    pub group_by: Vec<String>,
    /// (unit, size).
    pub interval: Option<(String, i64)>,
}

/// Time bucket units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Fixed width, in microseconds (minute, hour, day, week).
    Fixed(i64),
    Month,
    Year,
}

const MINUTE: i64 = 60_000_000;
/// Weeks start on Monday: 1970-01-05 was one.
const WEEK_ORIGIN: i64 = 4 * 24 * 60 * MINUTE;

fn unit(name: &str) -> Result<Unit> {
    Ok(match name {
        "minute" => Unit::Fixed(MINUTE),
        "hour" => Unit::Fixed(60 * MINUTE),
        "day" => Unit::Fixed(24 * 60 * MINUTE),
        "week" => Unit::Fixed(7 * 24 * 60 * MINUTE),
        "month" => Unit::Month,
        "year" => Unit::Year,
        other => {
            return Err(Error::invalid(
                "interval.unit",
                format!("'{other}' is not one of minute, hour, day, week, month, year"),
            ));
        }
    })
}

/// A checked analytics query: its SQL and how to read the rows back.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsPlan {
    pub sql: String,
    pub binds: Vec<Bind>,
    group_by: Vec<(&'static str, Kind)>,
    interval: Option<(Unit, i64)>,
    /// (result name, function, field kind is integer).
    metrics: Vec<(String, String, bool)>,
}

/// Checks an analytics query and builds its SQL for `backend`.
pub fn plan_analytics(backend: Backend, q: &AnalyticsQuery) -> Result<AnalyticsPlan> {
    if q.metrics.is_empty() {
        return Err(Error::invalid("metrics", "must name at least one metric"));
    }
    if q.group_by.len() > 3 {
        return Err(Error::invalid("groupBy", "at most 3 columns"));
    }
    let range = time_range(&q.time_range)?;
    let group_by: Vec<(&'static str, Kind)> = q
        .group_by
        .iter()
        .map(|g| {
            let (c, k) = column(Table::Events, "groupBy", g)?;
            if matches!(k, Kind::Json | Kind::Id) {
                return Err(Error::invalid("groupBy", format!("cannot group by '{c}'")));
            }
            Ok((c, k))
        })
        .collect::<Result<_>>()?;
    let interval = match &q.interval {
        None => None,
        Some((u, size)) => {
            if *size < 1 {
                return Err(Error::invalid("interval.size", "must be at least 1"));
            }
            let unit = unit(u)?;
            // Buckets are microseconds wide: a width past 64 bits (some
            // 290,000 years) is no interval.
            if let Unit::Fixed(w) = unit
                && w.checked_mul(*size).is_none()
            {
                return Err(Error::invalid(
                    "interval.size",
                    format!(
                        "{size} {u}s is too long an interval (at most {} of them)",
                        i64::MAX / w
                    ),
                ));
            }
            Some((unit, *size))
        }
    };
    let mut select: Vec<String> = group_by.iter().map(|(c, _)| (*c).to_string()).collect();
    let mut metrics = Vec::new();
    for (name, m) in &q.metrics {
        let field = format!("metrics.{name}");
        let expr = match (m.function.as_str(), &m.field) {
            ("count", _) => "COUNT(*)".to_string(),
            (f @ ("sum" | "avg" | "min" | "max" | "percentage"), Some(col)) => {
                let (c, k) = column(Table::Events, &format!("{field}.field"), col)?;
                if !matches!(k, Kind::Int | Kind::Id) {
                    return Err(Error::invalid(
                        format!("{field}.field"),
                        format!("'{c}' is not a numeric column"),
                    ));
                }
                let agg = if f == "percentage" { "SUM" } else { &f.to_ascii_uppercase() };
                format!("CAST({agg}({c}) AS DOUBLE PRECISION)")
            }
            ("sum" | "avg" | "min" | "max" | "percentage", None) => {
                return Err(Error::invalid(
                    format!("{field}.field"),
                    format!("is required for '{}'", m.function),
                ));
            }
            (other, _) => {
                return Err(Error::invalid(
                    format!("{field}.function"),
                    format!("'{other}' is not one of count, sum, avg, min, max, percentage"),
                ));
            }
        };
        // Named, so that no output column shadows a group column.
        select.push(format!("{expr} AS m{}", metrics.len()));
        metrics.push((name.clone(), m.function.clone(), m.function != "avg"));
    }
    let mut binds = Binds::default();
    let terms = conditions(Table::Events, &q.filters, range, &mut binds)?;
    let mut group: Vec<String> = group_by.iter().map(|(c, _)| (*c).to_string()).collect();
    if let Some((u, size)) = interval {
        let expr = match (u, backend) {
            (Unit::Fixed(w), _) => {
                let width = w * size;
                let o = if w == 7 * 24 * 60 * MINUTE { WEEK_ORIGIN } else { 0 };
                // Floor division that also holds before the origin.
                format!(
                    "(((system_timestamp - {o}) - (((system_timestamp - {o}) % {width}) + {width}) % {width}) + {o})"
                )
            }
            // Month number since year 0, floored to the interval size.
            (Unit::Month, Backend::Sqlite) => format!(
                "((CAST(strftime('%Y', system_timestamp / 1000000, 'unixepoch') AS INTEGER) * 12 \
                 + CAST(strftime('%m', system_timestamp / 1000000, 'unixepoch') AS INTEGER) - 1) / {size} * {size})"
            ),
            (Unit::Month, Backend::Postgres) => format!(
                "((CAST(EXTRACT(YEAR FROM to_timestamp(system_timestamp / 1000000.0) AT TIME ZONE 'UTC') AS BIGINT) * 12 \
                 + CAST(EXTRACT(MONTH FROM to_timestamp(system_timestamp / 1000000.0) AT TIME ZONE 'UTC') AS BIGINT) - 1) / {size} * {size})"
            ),
            (Unit::Year, Backend::Sqlite) => format!(
                "(CAST(strftime('%Y', system_timestamp / 1000000, 'unixepoch') AS INTEGER) / {size} * {size})"
            ),
            (Unit::Year, Backend::Postgres) => format!(
                "(CAST(EXTRACT(YEAR FROM to_timestamp(system_timestamp / 1000000.0) AT TIME ZONE 'UTC') AS BIGINT) / {size} * {size})"
            ),
        };
        select.push(format!("CAST({expr} AS BIGINT) AS bucket"));
        group.push("bucket".into());
    }
    let mut sql = format!("SELECT {} FROM events", select.join(", "));
    if !terms.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&terms.join(" AND "));
    }
    if !group.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group.join(", ")));
        // Time series read in time order: the bucket sorts first.
        let mut order = group.clone();
        order.rotate_right(usize::from(interval.is_some()));
        sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    Ok(AnalyticsPlan { sql, binds: binds.0, group_by, interval, metrics })
}

/// The start of a bucket as ISO-8601.
fn bucket_time(unit: Unit, v: i64) -> String {
    match unit {
        Unit::Fixed(_) => format_time(v),
        Unit::Month => {
            let (y, m) = (v.div_euclid(12), v.rem_euclid(12) + 1);
            let t = Utc.with_ymd_and_hms(y as i32, m as u32, 1, 0, 0, 0).single();
            t.map(|t| format_time(t.timestamp_micros())).unwrap_or_default()
        }
        Unit::Year => {
            let t = Utc.with_ymd_and_hms(v as i32, 1, 1, 0, 0, 0).single();
            t.map(|t| format_time(t.timestamp_micros())).unwrap_or_default()
        }
    }
}

/// A JSON number: integral values of integer aggregates as integers.
fn number(v: Option<f64>, integral: bool) -> Value {
    match v {
        None => Value::Null,
        Some(f) if integral && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
        Some(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
    }
}

/// One aggregate row as read: (bucket, group columns, metric values).
type AggRow = (Option<i64>, Map<String, Value>, Vec<Option<f64>>);

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Int(v) => q.bind(*v),
                Bind::Float(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }};
}

macro_rules! read_cell {
    ($row:expr, $i:expr, $kind:expr) => {{
        let (row, i) = (&$row, $i);
        match $kind {
            Kind::Id | Kind::Int => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::from)),
            Kind::Time => {
                row.try_get::<Option<i64>, _>(i).map(|v| v.map(|t| Value::String(format_time(t))))
            }
            Kind::Float => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Value::from)),
            Kind::Text => row.try_get::<Option<String>, _>(i).map(|v| v.map(Value::String)),
            Kind::Json => row
                .try_get::<Option<String>, _>(i)
                .map(|v| v.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)))),
        }
        .map_err(db_error)?
        .unwrap_or(Value::Null)
    }};
}

impl Db {
    /// Runs an events or tracks query: one JSON object per row, holding
    /// the requested columns.
    pub async fn query_rows(&self, table: Table, q: &RowsQuery) -> Result<Vec<Map<String, Value>>> {
        let plan = plan_rows(table, q)?;
        on_pool!(self, p => {
            let rows = // Audited: identifiers come from the column tables, values are bound.
            bind_all!(sqlx::query(sqlx::AssertSqlSafe(plan.sql.clone())), &plan.binds)
                .fetch_all(p)
                .await
                .map_err(db_error)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut m = Map::new();
                for (i, (name, kind)) in plan.columns.iter().enumerate() {
                    m.insert((*name).to_string(), read_cell!(row, i, *kind));
                }
                out.push(m);
            }
            Ok(out)
        })
    }

    /// Runs an analytics query: one JSON object per group and bucket.
    pub async fn query_analytics(&self, q: &AnalyticsQuery) -> Result<Vec<Map<String, Value>>> {
        let plan = plan_analytics(self.backend(), q)?;
        let n_groups = plan.group_by.len();
        let mut out: Vec<AggRow> = on_pool!(self, p => {
            let rows = // Audited: identifiers come from the column tables, values are bound.
            bind_all!(sqlx::query(sqlx::AssertSqlSafe(plan.sql.clone())), &plan.binds)
                .fetch_all(p)
                .await
                .map_err(db_error)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut m = Map::new();
                for (i, (g, kind)) in plan.group_by.iter().enumerate() {
                    m.insert((*g).to_string(), read_cell!(row, i, *kind));
                }
                let mut values = Vec::new();
                for (j, (_, function, _)) in plan.metrics.iter().enumerate() {
                    let i = n_groups + j;
                    let v = if function == "count" {
                        row.try_get::<i64, _>(i).map(|v| Some(v as f64))
                    } else {
                        row.try_get::<Option<f64>, _>(i)
                    };
                    values.push(v.map_err(db_error)?);
                }
                let bucket = if plan.interval.is_some() {
                    Some(row.try_get::<i64, _>(n_groups + plan.metrics.len()).map_err(db_error)?)
                } else {
                    None
                };
                out.push((bucket, m, values));
            }
            out
        });
        // `percentage`: share of the bucket's total over all groups.
        let mut totals: std::collections::HashMap<Option<i64>, Vec<f64>> = Default::default();
        for (bucket, _, values) in &out {
            let t = totals.entry(*bucket).or_insert_with(|| vec![0.0; values.len()]);
            for (acc, v) in t.iter_mut().zip(values) {
                *acc += v.unwrap_or(0.0);
            }
        }
        Ok(out
            .drain(..)
            .map(|(bucket, mut m, values)| {
                if let (Some(b), Some((unit, _))) = (bucket, plan.interval) {
                    m.insert("bucket".into(), Value::String(bucket_time(unit, b)));
                }
                for (j, ((name, function, integral), v)) in
                    plan.metrics.iter().zip(values).enumerate()
                {
                    let value = if function == "percentage" {
                        let total = totals[&bucket][j];
                        let share =
                            if total == 0.0 { 0.0 } else { 100.0 * v.unwrap_or(0.0) / total };
                        number(Some(share), false)
                    } else {
                        number(v, *integral)
                    };
                    m.insert(name.clone(), value);
                }
                m
            })
            .collect())
    }
}
