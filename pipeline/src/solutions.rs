//! The solutions this engine can run. An instance's `solution` must name one.

/// One solution: what `GET /v1/core/solutions` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// Stable id used in `InstanceWrite.solution` (e.g. `securt`).
    pub id: &'static str,
    /// Name shown to users (RT calls SecuRT "SecuRT (Security)").
    pub name: &'static str,
}

/// Every solution known to this engine.
pub const SOLUTIONS: &[Solution] = &[Solution { id: SECURT, name: "SecuRT (Security)" }];

/// The id of SecuRT, the security solution.
pub const SECURT: &str = "securt";

/// Looks a solution up by id (exact match, as RT does).
pub fn find(id: &str) -> Option<&'static Solution> {
    SOLUTIONS.iter().find(|s| s.id == id)
}
