//! The `rt-client` examples, built as a user would build them and run
//! against a real server: `intrusion_events` prints analytics events as they
//! arrive and resumes after the last one it printed; `push_frames` pushes
//! JPEGs from a directory and prints what the model tracked in them.

use std::time::Duration;

use crate::common::cargo;
use crate::media::{media_server, test_video};
use crate::push::clip_jpegs;

/// Builds example `name` of rt-client and returns its executable.
fn example(name: &str) -> std::path::PathBuf {
    let out = cargo(&["build", "--offline", "-p", "rt-client", "--example", name])
        .args(["--message-format", "json-render-diagnostics"])
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let executable = stdout.lines().find_map(|line| {
        let message: serde_json::Value = serde_json::from_str(line).ok()?;
        if message["target"]["name"] != name {
            return None;
        }
        message["executable"].as_str().map(std::path::PathBuf::from)
    });
    executable.expect("cargo names the example's executable")
}

/// Runs an example against `base` with `args`, bounded; returns its stdout.
async fn run(exe: &std::path::Path, base: &str, args: &[&str], limit: Duration) -> String {
    let child = tokio::process::Command::new(exe)
        .args(args)
        .env("RT_BASE_URL", base)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example starts");
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} did not finish within {limit:?}", exe.display()))
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    stdout.into_owned()
}

/// The `<id> <event name> ...` lines of `intrusion_events`.
fn events(stdout: &str) -> Vec<(u64, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn intrusion_events_prints_analytics_events_and_resumes() {
    let exe = example("intrusion_events");
    let s = media_server();
    let video = test_video();
    let first = run(&exe, &s.base, &[&video, "2"], Duration::from_secs(90)).await;
    let seen = events(&first);
    assert_eq!(seen.len(), 2, "{first}");
    for (_, name) in &seen {
        assert!(name.starts_with("event-intrusion") || name == "event-line-crossing", "{first}");
    }
    let resume = first.lines().last().unwrap();
    let args: Vec<&str> = resume.strip_prefix("resume with: ").expect(resume).split(' ').collect();
    assert_eq!(args[2], seen[1].0.to_string(), "resumes after the last event printed");

    // A second run picks up after that event: nothing printed twice.
    let second =
        run(&exe, &s.base, &[args[0], args[1], args[2], "1"], Duration::from_secs(90)).await;
    let next = events(&second);
    assert_eq!(next.len(), 1, "{second}");
    assert!(next[0].0 > seen[1].0, "{first}\nthen\n{second}");
}

#[tokio::test]
async fn push_frames_yields_detections() {
    let exe = example("push_frames");
    let s = media_server();
    // Frames 120 to 135 of the clip: people walking, in order.
    let frames = clip_jpegs(136);
    let keep: Vec<String> = (120..136).map(|i| format!("f{i:04}.jpg")).collect();
    for file in std::fs::read_dir(frames.path()).unwrap() {
        let path = file.unwrap().path();
        if !keep.iter().any(|k| path.ends_with(k)) {
            std::fs::remove_file(path).unwrap();
        }
    }
    let dir = frames.path().to_str().unwrap();
    let out = run(&exe, &s.base, &[dir], Duration::from_secs(90)).await;
    assert!(out.contains("pushed 16 frames"), "{out}");
    let people = out.lines().filter(|l| l.starts_with("Person ")).count();
    let total: usize = out
        .lines()
        .find_map(|l| l.strip_suffix(" objects tracked")?.parse().ok())
        .expect("a summary line");
    assert!(people >= 3 && total >= people, "{people} people of {total} tracks:\n{out}");
    // It deleted its instance.
    assert!(s.client().list_instances().await.unwrap().into_inner().instances.is_empty());
}
