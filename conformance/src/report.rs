//! The report of a run as JUnit XML, JSON or Markdown: each check with its
//! outcome and, for failures, what was sent, what came back and why.

use std::fmt::Write;

use crate::ctx::Exchange;
use crate::runner::{CheckReport, Outcome, Report};

/// The report formats of `--report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Junit,
    Json,
    Markdown,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).expect("a report serialises"),
        Format::Junit => junit(report),
        Format::Markdown => markdown(report),
    }
}

/// One line: counts and time.
pub fn summary(report: &Report) -> String {
    format!(
        "{} checks: {} passed, {} failed, {} skipped in {:.1} s{}{}",
        report.checks.len(),
        report.count(Outcome::Pass),
        report.count(Outcome::Fail),
        report.count(Outcome::Skip),
        report.millis as f64 / 1000.0,
        if report.cleanup_problems.is_empty() {
            String::new()
        } else {
            format!("; {} things left behind", report.cleanup_problems.len())
        },
        if report.interrupted { "; interrupted" } else { "" },
    )
}

fn exchange_text(e: &Exchange) -> String {
    let mut s = format!("> {} {}\n", e.method, e.url);
    for (k, v) in &e.request_headers {
        let _ = writeln!(s, "> {k}: {v}");
    }
    if let Some(body) = &e.request_body {
        let _ = writeln!(s, "> {body}");
    }
    match (e.status, &e.error) {
        (_, Some(error)) => {
            let _ = writeln!(s, "< ({error}) after {} ms", e.millis);
        }
        (Some(status), None) => {
            let _ = writeln!(
                s,
                "< {status} {} in {} ms",
                e.content_type.as_deref().unwrap_or("(no content type)"),
                e.millis
            );
            if let Some(body) = e.response_body.as_deref().filter(|b| !b.is_empty()) {
                let _ = writeln!(s, "< {body}");
            }
        }
        (None, None) => {}
    }
    s
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rt-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.checks.len(),
        report.count(Outcome::Fail),
        report.count(Outcome::Skip),
        report.millis as f64 / 1000.0
    );
    let mut groups: Vec<&str> = report.checks.iter().map(|c| c.group.as_str()).collect();
    groups.dedup();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let checks: Vec<&CheckReport> = report.checks.iter().filter(|c| c.group == group).collect();
        let fails = checks.iter().filter(|c| c.outcome == Outcome::Fail).count();
        let skips = checks.iter().filter(|c| c.outcome == Outcome::Skip).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" skipped=\"{skips}\">",
            xml(group),
            checks.len()
        );
        for c in checks {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(group),
                xml(&c.name),
                c.millis as f64 / 1000.0
            );
            let message = c.message.as_deref().unwrap_or_default();
            match c.outcome {
                Outcome::Pass => out.push_str("/>\n"),
                Outcome::Skip => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml(message)
                    );
                }
                Outcome::Fail => {
                    let exchanges: String =
                        c.exchanges.iter().map(exchange_text).collect::<Vec<_>>().join("\n");
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">{}\n\n{}</failure>\n    </testcase>",
                        xml(message.lines().next().unwrap_or_default()),
                        xml(message),
                        xml(&exchanges)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn markdown(report: &Report) -> String {
    let mut out =
        format!("# rt-conformance against {}\n\n{}\n\n", report.base_url, summary(report));
    if report.strict_rt {
        out.push_str("Strict RT: checks of `x-rt-extension` features left out.\n\n");
    }
    out.push_str("| check | outcome | ms | note |\n|---|---|---|---|\n");
    for c in &report.checks {
        let outcome = match c.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "**FAIL**",
            Outcome::Skip => "skip",
        };
        let note =
            c.message.as_deref().unwrap_or("").lines().next().unwrap_or("").replace('|', "\\|");
        let _ = writeln!(out, "| `{}` | {outcome} | {} | {note} |", c.name, c.millis);
    }
    let failures: Vec<&CheckReport> =
        report.checks.iter().filter(|c| c.outcome == Outcome::Fail).collect();
    if !failures.is_empty() {
        out.push_str("\n## Failures\n");
        for c in failures {
            let _ = writeln!(
                out,
                "\n### `{}`\n\n{}\n\n{}\n",
                c.name,
                c.about,
                c.message.as_deref().unwrap_or("")
            );
            if !c.exchanges.is_empty() {
                out.push_str("```text\n");
                for e in &c.exchanges {
                    out.push_str(&exchange_text(e));
                }
                out.push_str("```\n");
            }
        }
    }
    if !report.cleanup_problems.is_empty() {
        out.push_str("\n## Left behind\n\n");
        for p in &report.cleanup_problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let check = |name: &str, outcome, message: Option<&str>| CheckReport {
            name: name.into(),
            group: name.split('.').next().unwrap().into(),
            extension: false,
            about: "about".into(),
            outcome,
            message: message.map(str::to_string),
            millis: 3,
            exchanges: vec![Exchange {
                method: "GET".into(),
                url: "http://h/v1/core/version".into(),
                request_headers: vec![],
                request_body: None,
                status: Some(500),
                content_type: Some("application/json".into()),
                response_body: Some("{\"message\":\"<boom> & co\"}".into()),
                error: None,
                millis: 1,
            }],
        };
        Report {
            base_url: "http://h".into(),
            strict_rt: false,
            millis: 10,
            checks: vec![
                check("core.get_version.200", Outcome::Fail, Some("expected 200, got 500")),
                check("sse.resume", Outcome::Skip, Some("n/a")),
                check("config.roundtrip", Outcome::Pass, None),
            ],
            cleanup_problems: vec![],
            interrupted: false,
        }
    }

    #[test]
    fn junit_escapes_and_counts() {
        let text = render(&report(), Format::Junit);
        assert!(text.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{text}");
        assert!(text.contains("&lt;boom&gt; &amp; co"), "{text}");
        assert!(!text.contains("<boom>"));
    }

    #[test]
    fn markdown_lists_failures_with_exchanges() {
        let text = render(&report(), Format::Markdown);
        assert!(text.contains("| `core.get_version.200` | **FAIL** |"), "{text}");
        assert!(text.contains("< 500 application/json"), "{text}");
    }

    #[test]
    fn json_round_trips_outcomes() {
        let v: serde_json::Value = serde_json::from_str(&render(&report(), Format::Json)).unwrap();
        assert_eq!(v["checks"][1]["outcome"], "skip");
    }
}
