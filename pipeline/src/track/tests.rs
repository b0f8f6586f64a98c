//! Tracker behaviour on scripted detections: association, lifecycle, ids.

use super::*;

const FRAME_MS: i64 = 33;

fn person(cx: f32, cy: f32, score: f32) -> Detection {
    Detection::new(Rect::from_center(cx, cy, 0.1, 0.3), 0, score)
}

fn car(cx: f32, cy: f32, score: f32) -> Detection {
    Detection::new(Rect::from_center(cx, cy, 0.2, 0.1), 2, score)
}

fn ids(tracks: &[Track]) -> Vec<u64> {
    tracks.iter().map(|t| t.id).collect()
}

/// Feeds `frames` frames of one static person at (0.5, 0.5); returns the
/// time of the last.
fn confirm_static(tracker: &mut Tracker, frames: i64) -> i64 {
    for f in 0..frames {
        tracker.update(f * FRAME_MS, &[person(0.5, 0.5, 0.9)]);
    }
    (frames - 1) * FRAME_MS
}

#[test]
fn confirmation_after_min_hits() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let t = tracker.update(0, &[person(0.5, 0.5, 0.9)]);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].id, t[0].confirmed, t[0].hits, t[0].age_ms), (1, false, 1, 0));
    assert_eq!((t[0].label, t[0].class), ("person", ObjectClass::Person));
    let t = tracker.update(33, &[person(0.5, 0.5, 0.9)]);
    assert_eq!((t[0].confirmed, t[0].hits), (false, 2));
    let t = tracker.update(66, &[person(0.5, 0.5, 0.9)]);
    assert_eq!(
        (t[0].id, t[0].confirmed, t[0].hits, t[0].age_ms, t[0].lost_ms),
        (1, true, 3, 66, 0)
    );
    let r = t[0].rect;
    assert!((r.center_x() - 0.5).abs() < 1e-4 && (r.width() - 0.1).abs() < 1e-4, "{r:?}");

    let mut at_once = Tracker::new(TrackerOptions { min_hits: 1, ..TrackerOptions::default() });
    assert!(at_once.update(0, &[person(0.5, 0.5, 0.9)])[0].confirmed);
}

#[test]
fn one_frame_false_positive_never_becomes_confirmed() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    assert_eq!(tracker.update(0, &[person(0.3, 0.5, 0.9)]).len(), 1);
    assert!(tracker.update(33, &[]).is_empty());
    // Back in the same place: a new track, not the old one.
    let t = tracker.update(66, &[person(0.3, 0.5, 0.9)]);
    assert_eq!(ids(&t), [2]);
    assert!(!t[0].confirmed);
}

#[test]
fn tentative_track_is_not_kept_by_a_low_score_box() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.update(0, &[person(0.5, 0.5, 0.9)]);
    tracker.update(33, &[person(0.5, 0.5, 0.9)]);
    assert!(tracker.update(66, &[person(0.5, 0.5, 0.2)]).is_empty());
}

#[test]
fn low_scores_never_start_tracks() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    for f in 0..10 {
        assert!(tracker.update(f * FRAME_MS, &[person(0.5, 0.5, 0.3)]).is_empty());
    }
    // Below low_thresh: ignored altogether.
    assert!(tracker.update(400, &[person(0.5, 0.5, 0.05)]).is_empty());
}

#[test]
fn missed_frame_keeps_the_id() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    // Walking right at 0.01 per frame (0.3 per second).
    let x = |f: i64| 0.2 + 0.01 * f as f32;
    for f in 0..6 {
        tracker.update(f * FRAME_MS, &[person(x(f), 0.5, 0.9)]);
    }
    let t = tracker.update(6 * FRAME_MS, &[]);
    assert_eq!(ids(&t), [1]);
    assert_eq!((t[0].confirmed, t[0].lost_ms, t[0].hits), (true, FRAME_MS, 6));
    assert!(t[0].velocity.x > 0.1, "{:?}", t[0].velocity);
    // The prediction moved on.
    assert!(t[0].rect.center_x() > x(5), "{:?}", t[0].rect);
    for f in 7..12 {
        let t = tracker.update(f * FRAME_MS, &[person(x(f), 0.5, 0.9)]);
        assert_eq!(ids(&t), [1]);
        assert_eq!(t[0].lost_ms, 0);
    }
}

#[test]
fn crossing_objects_keep_their_ids() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    // A walks right, B walks left, slightly lower: they overlap (IoU up to
    // 0.7) around frame 40 and part again.
    let a = |f: i64| person(0.1 + 0.01 * f as f32, 0.45, 0.9);
    let b = |f: i64| person(0.9 - 0.01 * f as f32, 0.5, 0.8);
    let mut first = None;
    for f in 0..80 {
        // Alternate the detection order so that order does not decide.
        let dets = if f % 2 == 0 { [a(f), b(f)] } else { [b(f), a(f)] };
        let t = tracker.update(f * FRAME_MS, &dets);
        assert_eq!(t.len(), 2, "frame {f}: {t:?}");
        // Identify by vertical position, which never changes.
        let id_a = t.iter().find(|k| (k.rect.center_y() - 0.45).abs() < 0.02).unwrap().id;
        let id_b = t.iter().find(|k| (k.rect.center_y() - 0.5).abs() < 0.02).unwrap().id;
        assert_ne!(id_a, id_b);
        match first {
            None => first = Some((id_a, id_b)),
            Some(ids) => assert_eq!(ids, (id_a, id_b), "frame {f}"),
        }
    }
    let t = tracker.update(80 * FRAME_MS, &[a(80), b(80)]);
    assert!(t.iter().all(|k| k.confirmed && k.lost_ms == 0));
    let right = t.iter().find(|k| k.velocity.x > 0.0).unwrap();
    assert!((right.rect.center_y() - 0.45).abs() < 0.02, "A still moves right: {t:?}");
}

#[test]
fn removal_after_max_lost_ms() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let last = confirm_static(&mut tracker, 3);
    let t = tracker.update(last + 500, &[]);
    assert_eq!((t[0].lost_ms, t[0].confirmed), (500, true));
    let t = tracker.update(last + 1000, &[]);
    assert_eq!(ids(&t), [1]);
    assert_eq!(t[0].lost_ms, 1000);
    assert!(tracker.update(last + 1001, &[]).is_empty());
    // Coming back afterwards: a new id.
    let t = tracker.update(last + 1034, &[person(0.5, 0.5, 0.9)]);
    assert_eq!(ids(&t), [2]);
}

#[test]
fn track_leaving_the_image_is_removed() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    // Walking right fast (0.05 per frame) until the edge, then gone.
    let mut last = 0;
    for f in 0..14 {
        last = f * FRAME_MS;
        tracker.update(last, &[person(0.3 + 0.05 * f as f32, 0.5, 0.9)]);
    }
    // Centre at 0.95 last seen; at ~1.5/s it is out of the image in < 0.2 s.
    let t = tracker.update(last + 66, &[]);
    assert_eq!(t.len(), 1);
    assert!(t[0].rect.x2 <= 1.0);
    assert!(tracker.update(last + 300, &[]).is_empty());
}

#[test]
fn low_score_second_pass_keeps_a_track_through_a_dim_frame() {
    for second_pass in [true, false] {
        let low_thresh = if second_pass { 0.1 } else { 0.35 };
        let mut tracker = Tracker::new(TrackerOptions { low_thresh, ..TrackerOptions::default() });
        let last = confirm_static(&mut tracker, 3);
        // Three dim frames, plus a dim box elsewhere that must not start a track.
        for f in 1..=3 {
            let dets = [person(0.5, 0.5, 0.2), person(0.1, 0.2, 0.2)];
            let t = tracker.update(last + f * FRAME_MS, &dets);
            assert_eq!(ids(&t), [1]);
            if second_pass {
                assert_eq!((t[0].lost_ms, t[0].score, t[0].hits), (0, 0.2, 3 + f as u32));
            } else {
                assert_eq!(t[0].lost_ms, f * FRAME_MS);
            }
        }
        let t = tracker.update(last + 4 * FRAME_MS, &[person(0.5, 0.5, 0.9)]);
        assert_eq!(ids(&t), [1]);
        assert_eq!(t[0].lost_ms, 0);
    }
}

#[test]
fn low_score_box_needs_a_close_fit() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let last = confirm_static(&mut tracker, 3);
    // Shifted by 0.04 of a 0.1-wide box: IoU 0.43 < 0.5, not matched as
    // low; the same shift at a high score (IoU >= 0.2) is.
    let t = tracker.update(last + 33, &[person(0.54, 0.5, 0.2)]);
    assert_eq!(t[0].lost_ms, 33);
    let t = tracker.update(last + 66, &[person(0.54, 0.5, 0.9)]);
    assert_eq!((ids(&t), t[0].lost_ms), (vec![1], 0));
}

#[test]
fn association_is_class_aware() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let last = confirm_static(&mut tracker, 3);
    let t = tracker.update(last + 33, &[car(0.5, 0.5, 0.9)]);
    assert_eq!(ids(&t), [1, 2]);
    assert_eq!((t[0].label, t[0].lost_ms), ("person", 33));
    assert_eq!((t[1].label, t[1].class, t[1].confirmed), ("car", ObjectClass::Vehicle, false));
}

#[test]
fn vehicle_subclass_flicker_keeps_track_and_label() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    for f in 0..3 {
        tracker.update(f * FRAME_MS, &[car(0.5, 0.5, 0.8)]);
    }
    // One frame seen as a truck (COCO 7): same track, still labelled car.
    let truck = Detection::new(Rect::from_center(0.5, 0.5, 0.2, 0.1), 7, 0.7);
    let t = tracker.update(99, &[truck]);
    assert_eq!(ids(&t), [1]);
    assert_eq!((t[0].label, t[0].class_id, t[0].lost_ms), ("car", 2, 0));
    // Unknown-class objects match only their own COCO class.
    let cup = Detection::new(Rect::from_center(0.2, 0.2, 0.1, 0.1), 41, 0.9);
    let chair = Detection::new(Rect::from_center(0.2, 0.2, 0.1, 0.1), 56, 0.9);
    let mut tracker = Tracker::new(TrackerOptions { min_hits: 1, ..TrackerOptions::default() });
    tracker.update(0, &[cup]);
    let t = tracker.update(33, &[chair]);
    assert_eq!(ids(&t), [1, 2]);
    assert_eq!((t[0].label, t[0].lost_ms, t[1].label), ("cup", 33, "chair"));
}

#[test]
fn ids_are_never_reused() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let mut seen = Vec::new();
    let mut time = 0;
    for round in 0..5 {
        // A false positive, then a confirmed track that is lost for good.
        let x = 0.1 + 0.15 * round as f32;
        seen.extend(ids(&tracker.update(time, &[person(x, 0.2, 0.9)])));
        time += 33;
        tracker.update(time, &[]);
        for _ in 0..3 {
            time += 33;
            seen.extend(ids(&tracker.update(time, &[person(x, 0.7, 0.9)])));
        }
        time += 2000;
        assert!(tracker.update(time, &[]).is_empty());
    }
    seen.dedup();
    assert_eq!(seen, (1..=10).collect::<Vec<u64>>());
}

#[test]
fn time_going_backwards_counts_as_no_time() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    tracker.update(1000, &[person(0.5, 0.5, 0.9)]);
    let t = tracker.update(500, &[person(0.5, 0.5, 0.9)]);
    assert_eq!((t[0].age_ms, t[0].lost_ms, t[0].hits), (0, 0, 2));
    let t = tracker.update(1033, &[person(0.5, 0.5, 0.9)]);
    assert_eq!((t[0].age_ms, t[0].confirmed), (33, true));
}

#[test]
fn invalid_boxes_are_ignored() {
    let mut tracker = Tracker::new(TrackerOptions::default());
    let empty = Detection::new(Rect::new(0.5, 0.5, 0.5, 0.6), 0, 0.9);
    let nan = Detection::new(Rect::new(f32::NAN, 0.5, 0.6, 0.6), 0, 0.9);
    let nan_score = person(0.5, 0.5, f32::NAN);
    assert!(tracker.update(0, &[empty, nan, nan_score]).is_empty());
}
