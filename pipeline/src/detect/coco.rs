//! The 80 COCO class names in the standard (detector output) order, and the
//! mapping from a COCO class to RT's [`ObjectClass`] given in
//! `shared/reference/analytics-semantics.md` ("COCO -> RT class").

use crate::securt::ObjectClass;

/// COCO's 80 detection classes, indexed by the detector's class id (the
/// order of NanoDet's and Ultralytics' COCO heads; the 91-id paper numbering
/// with gaps is not used).
pub const COCO_LABELS: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// The label of a class id; `"unknown"` for an id outside COCO's 80 (a
/// model with another head).
pub fn coco_label(class_id: usize) -> &'static str {
    COCO_LABELS.get(class_id).copied().unwrap_or("unknown")
}

/// RT's class for a COCO class id: person -> `Person`; bicycle, car,
/// motorcycle, bus, truck, train, boat -> `Vehicle`; bird, cat, dog, horse,
/// sheep, cow, elephant, bear, zebra, giraffe -> `Animal`; anything else
/// (airplane included: the semantics list it nowhere) -> `Unknown`.
pub fn rt_class(class_id: usize) -> ObjectClass {
    match coco_label(class_id) {
        "person" => ObjectClass::Person,
        "bicycle" | "car" | "motorcycle" | "bus" | "truck" | "train" | "boat" => {
            ObjectClass::Vehicle
        }
        "bird" | "cat" | "dog" | "horse" | "sheep" | "cow" | "elephant" | "bear" | "zebra"
        | "giraffe" => ObjectClass::Animal,
        _ => ObjectClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_in_standard_order() {
        assert_eq!(COCO_LABELS[0], "person");
        assert_eq!(COCO_LABELS[2], "car");
        assert_eq!(COCO_LABELS[14], "bird");
        assert_eq!(COCO_LABELS[23], "giraffe");
        assert_eq!(COCO_LABELS[41], "cup");
        assert_eq!(COCO_LABELS[79], "toothbrush");
        assert_eq!(coco_label(80), "unknown");
    }

    #[test]
    fn rt_classes_follow_the_semantics() {
        let count = |class| (0..80).filter(|&id| rt_class(id) == class).count();
        assert_eq!(count(ObjectClass::Person), 1);
        assert_eq!(count(ObjectClass::Vehicle), 7);
        assert_eq!(count(ObjectClass::Animal), 10);
        assert_eq!(count(ObjectClass::Face), 0);
        assert_eq!(rt_class(0), ObjectClass::Person);
        assert_eq!(rt_class(7), ObjectClass::Vehicle); // truck
        assert_eq!(rt_class(4), ObjectClass::Unknown); // airplane
        assert_eq!(rt_class(17), ObjectClass::Animal); // horse
        assert_eq!(rt_class(28), ObjectClass::Unknown); // suitcase
        assert_eq!(rt_class(1000), ObjectClass::Unknown);
    }
}
