//! The report of a run as JUnit XML, JSON, Markdown or one self-contained
//! HTML page: each check with its outcome and, for failures, what was sent,
//! what came back and why.

use std::fmt::Write;

use crate::ctx::Exchange;
use crate::runner::{CheckReport, Outcome, Report};

/// The report formats of `--report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// JUnit XML: one `testsuite` per group, for CI dashboards.
    Junit,
    /// The [`Report`] as JSON.
    Json,
    /// A table of every check, then each failure with its exchanges.
    Markdown,
    /// One HTML page with no outside resources: counts by group, every
    /// check, and each failure with its requests, answers and reason.
    Html,
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).expect("a report serialises"),
        Format::Junit => junit(report),
        Format::Markdown => markdown(report),
        Format::Html => html(report),
    }
}

/// One line: counts and time.
pub fn summary(report: &Report) -> String {
    format!(
        "{} checks (contract {}): {} passed, {} failed, {} skipped in {:.1} s{}{}",
        report.checks.len(),
        report.contract_version,
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

/// The groups of the report's checks, sorted, each with its checks in run order.
fn by_group(report: &Report) -> Vec<(&str, Vec<&CheckReport>)> {
    let mut groups: Vec<&str> = report.checks.iter().map(|c| c.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
        .into_iter()
        .map(|g| (g, report.checks.iter().filter(|c| c.group == g).collect()))
        .collect()
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Skip => "skip",
    }
}

const HTML_STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}\
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:bold}.skip{color:#6e7781}\
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;white-space:pre-wrap}";

fn html(report: &Report) -> String {
    let title = format!("rt-conformance against {}", xml(&report.base_url));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p id=\"summary\">{}</p>\n",
        xml(&summary(report))
    );
    if report.strict_rt {
        out.push_str(
            "<p>Strict RT: checks of <code>x-rt-extension</code> features left out.</p>\n",
        );
    }
    out.push_str(
        "<h2>By group</h2>\n<table id=\"groups\">\n\
         <tr><th>group</th><th>checks</th><th>passed</th><th>failed</th><th>skipped</th></tr>\n",
    );
    let groups = by_group(report);
    for (group, checks) in &groups {
        let count = |o| checks.iter().filter(|c| c.outcome == o).count();
        let _ = writeln!(
            out,
            "<tr data-group=\"{g}\"><td><a href=\"#group-{g}\">{g}</a></td><td>{}</td>\
             <td class=\"pass\">{}</td><td class=\"fail\">{}</td><td class=\"skip\">{}</td></tr>",
            checks.len(),
            count(Outcome::Pass),
            count(Outcome::Fail),
            count(Outcome::Skip),
            g = xml(group),
        );
    }
    out.push_str("</table>\n");
    let failures: Vec<&CheckReport> =
        report.checks.iter().filter(|c| c.outcome == Outcome::Fail).collect();
    if !failures.is_empty() {
        out.push_str("<h2>Failures</h2>\n");
        for c in failures {
            let exchanges: String = c.exchanges.iter().map(exchange_text).collect();
            let _ = writeln!(
                out,
                "<section class=\"failure\" data-check=\"{name}\">\n<h3 id=\"fail-{name}\">\
                 <code>{name}</code></h3>\n<p>{}</p>\n<p><b>Reason:</b></p>\n\
                 <pre class=\"reason\">{}</pre>\n<p><b>Requests and answers:</b></p>\n\
                 <pre class=\"exchanges\">{}</pre>\n</section>",
                xml(&c.about),
                xml(c.message.as_deref().unwrap_or_default()),
                xml(&exchanges),
                name = xml(&c.name),
            );
        }
    }
    out.push_str("<h2>Every check</h2>\n");
    for (group, checks) in &groups {
        let _ = writeln!(
            out,
            "<h3 id=\"group-{g}\">{g}</h3>\n<table class=\"checks\">\n\
             <tr><th>check</th><th>outcome</th><th>ms</th><th>note</th></tr>",
            g = xml(group)
        );
        for c in checks {
            let outcome = outcome_name(c.outcome);
            let note = c.message.as_deref().unwrap_or("").lines().next().unwrap_or("");
            let _ = writeln!(
                out,
                "<tr class=\"check\" data-check=\"{}\" data-outcome=\"{outcome}\">\
                 <td><code>{}</code></td><td class=\"{outcome}\">{outcome}</td><td>{}</td>\
                 <td>{}</td></tr>",
                xml(&c.name),
                xml(&c.name),
                c.millis,
                xml(note)
            );
        }
        out.push_str("</table>\n");
    }
    if !report.cleanup_problems.is_empty() {
        out.push_str("<h2>Left behind</h2>\n<ul>\n");
        for p in &report.cleanup_problems {
            let _ = writeln!(out, "<li>{}</li>", xml(p));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
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
    for (group, checks) in by_group(report) {
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
            Outcome::Fail => "**FAIL**",
            other => outcome_name(other),
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
            contract_version: "1.2.3".into(),
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
    fn html_is_one_page_with_groups_and_failures() {
        let text = render(&report(), Format::Html);
        assert!(text.starts_with("<!DOCTYPE html>") && text.ends_with("</html>\n"), "{text}");
        // Self-contained: no outside scripts, styles or images.
        for outside in ["<script", "<link", "src=", "url("] {
            assert!(!text.contains(outside), "{outside} in {text}");
        }
        for group in ["config", "core", "sse"] {
            assert!(text.contains(&format!("<tr data-group=\"{group}\">")), "{group}: {text}");
        }
        // The failure: its reason, and the request and answer, escaped.
        let failure = text
            .split("<section class=\"failure\" data-check=\"core.get_version.200\">")
            .nth(1)
            .expect("a failure section");
        assert!(failure.contains("expected 200, got 500"), "{failure}");
        assert!(failure.contains("&gt; GET http://h/v1/core/version"), "{failure}");
        assert!(failure.contains("&lt; 500 application/json"), "{failure}");
        assert!(failure.contains("&lt;boom&gt; &amp; co") && !text.contains("<boom>"));
        assert_eq!(text.matches("<section class=\"failure\"").count(), 1);
        assert!(text.contains("data-check=\"sse.resume\" data-outcome=\"skip\""), "{text}");
    }

    #[test]
    fn json_round_trips_outcomes() {
        let v: serde_json::Value = serde_json::from_str(&render(&report(), Format::Json)).unwrap();
        assert_eq!(v["checks"][1]["outcome"], "skip");
    }
}
