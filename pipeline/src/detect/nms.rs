//! Class-wise greedy non-maximum suppression.

use super::Candidate;

/// Keeps, best score first, each candidate whose IoU with every already
/// kept candidate *of the same class* is at most `iou_threshold`, and at
/// most `max_detections` of them. Boxes of different classes never suppress
/// each other. The result is sorted by score, best first.
///
/// Each candidate is compared only with the kept ones, so the cost is
/// O(n log n + n x `max_detections`).
pub fn nms(
    mut candidates: Vec<Candidate>,
    iou_threshold: f32,
    max_detections: usize,
) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::with_capacity(max_detections.min(candidates.len()));
    for c in candidates {
        if kept.len() >= max_detections {
            break;
        }
        let suppressed =
            kept.iter().any(|k| k.class_id == c.class_id && k.rect.iou(&c.rect) > iou_threshold);
        if !suppressed {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Rect;

    fn cand(x: f32, class_id: usize, score: f32) -> Candidate {
        Candidate { rect: Rect::new(x, 0.0, x + 10.0, 10.0), class_id, score }
    }

    #[test]
    fn keeps_the_best_of_overlapping_same_class_boxes() {
        // IoU(0..10, 1..11) = 9/11 = 0.82; IoU(0..10, 6..16) = 4/16 = 0.25.
        let got = nms(vec![cand(1.0, 0, 0.6), cand(0.0, 0, 0.9), cand(6.0, 0, 0.7)], 0.5, 10);
        assert_eq!(got, vec![cand(0.0, 0, 0.9), cand(6.0, 0, 0.7)]);
        // A stricter threshold removes the partial overlap too.
        let got = nms(vec![cand(1.0, 0, 0.6), cand(0.0, 0, 0.9), cand(6.0, 0, 0.7)], 0.2, 10);
        assert_eq!(got, vec![cand(0.0, 0, 0.9)]);
    }

    #[test]
    fn keeps_overlapping_boxes_of_different_classes() {
        let got = nms(vec![cand(0.0, 0, 0.9), cand(0.0, 2, 0.8), cand(1.0, 2, 0.7)], 0.5, 10);
        assert_eq!(got, vec![cand(0.0, 0, 0.9), cand(0.0, 2, 0.8)]);
    }

    #[test]
    fn caps_the_count_keeping_the_best() {
        let many: Vec<_> = (0..20).map(|i| cand(i as f32 * 20.0, 0, i as f32 / 20.0)).collect();
        let got = nms(many, 0.5, 5);
        let scores: Vec<_> = got.iter().map(|c| c.score).collect();
        assert_eq!(scores, [0.95, 0.9, 0.85, 0.8, 0.75]);
        assert!(nms(vec![cand(0.0, 0, 0.9)], 0.5, 0).is_empty());
    }
}
