//! The engine's SecuRT operations: areas, lines, the motion area, exclusion
//! areas and appearance search of SecuRT instances. Each is a change of the
//! instance's config tree (see [`crate::securt`] for where things live), so
//! it is validated, persisted and visible in `GET .../config` like any other
//! write.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Engine, InstanceSnapshot};
use crate::config_tree;
use crate::error::{Error, Result};
use crate::securt::{
    AppearanceSearch, AreaKind, EntityKind, EntityWrite, LineKind, Point, ROOT, SecurtConfig,
    check_polygon,
};
use crate::solutions::SECURT;

fn require_securt(id: Uuid, tree: &Map<String, Value>) -> Result<SecurtConfig> {
    if tree.get("solution").and_then(Value::as_str) != Some(SECURT) {
        return Err(Error::NotSecurt(id));
    }
    SecurtConfig::from_tree(tree)
}

/// The `SecuRT/<key>` object, created when missing (the tree was validated,
/// so an existing one is an object).
fn node<'a>(tree: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let root = tree.entry(ROOT).or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(root) = root else { unreachable!("validated: SecuRT is an object") };
    let child = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(child) = child else { unreachable!("validated: SecuRT/{key} is an object") };
    child
}

impl Engine {
    /// A SecuRT instance (404 for an instance of another solution).
    pub fn securt_instance(&self, id: Uuid) -> Result<InstanceSnapshot> {
        let snap = self.get(id)?;
        if snap.settings.solution != SECURT {
            return Err(Error::NotSecurt(id));
        }
        Ok(snap)
    }

    /// The areas, lines and options of a SecuRT instance.
    pub fn securt_config(&self, id: Uuid) -> Result<SecurtConfig> {
        self.with_tree(id, |tree| require_securt(id, tree))?
    }

    fn change_securt(
        &self,
        id: Uuid,
        f: impl FnOnce(&mut Map<String, Value>, &SecurtConfig) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.change_tree(id, move |tree| {
            let current = require_securt(id, tree)?;
            f(tree, &current)
        })
    }

    /// Creates an area; `area_id` is the caller's (checked, see
    /// [`EntityKind::check_id`]) or a generated UUID. Refused when an area
    /// already has it; a line may.
    pub fn create_area(
        &self,
        id: Uuid,
        area_id: Option<String>,
        kind: AreaKind,
        write: EntityWrite,
    ) -> Result<String> {
        let area_id = EntityKind::Area.new_id(area_id)?;
        let area = write.into_area(area_id.clone(), kind)?;
        self.insert_entity(id, EntityKind::Area, area_id, &area)
    }

    /// Creates a line, like [`Engine::create_area`].
    pub fn create_line(
        &self,
        id: Uuid,
        line_id: Option<String>,
        kind: LineKind,
        write: EntityWrite,
    ) -> Result<String> {
        let line_id = EntityKind::Line.new_id(line_id)?;
        let line = write.into_line(line_id.clone(), kind)?;
        self.insert_entity(id, EntityKind::Line, line_id, &line)
    }

    /// Stores a new area or line, unless one of its kind has its id.
    fn insert_entity(
        &self,
        id: Uuid,
        kind: EntityKind,
        entity_id: String,
        entity: &impl serde::Serialize,
    ) -> Result<String> {
        let path = kind.path(&entity_id);
        let value =
            serde_json::to_value(entity).map_err(|e| Error::invalid(&path, e.to_string()))?;
        let taken = entity_id.clone();
        self.change_securt(id, move |tree, current| {
            if current.has(kind, &taken) {
                return Err(Error::EntityExists { kind: kind.name(), id: taken });
            }
            config_tree::set(tree, &path, value)
        })?;
        Ok(entity_id)
    }

    /// Deletes one area or line (the other kind's entity with the same id,
    /// if any, stays).
    pub fn delete_entity(&self, id: Uuid, kind: EntityKind, entity_id: &str) -> Result<()> {
        EntityKind::check_id(kind.id_field(), entity_id)?;
        let entity_id = entity_id.to_string();
        self.change_securt(id, move |tree, current| {
            if !current.has(kind, &entity_id) {
                return Err(Error::EntityNotFound { kind: kind.name(), id: entity_id });
            }
            node(tree, kind.node()).remove(&entity_id);
            Ok(())
        })
    }

    /// Deletes every area.
    pub fn delete_areas(&self, id: Uuid) -> Result<()> {
        self.change_securt(id, |tree, _| {
            node(tree, "areas").clear();
            Ok(())
        })
    }

    /// Deletes every line.
    pub fn delete_lines(&self, id: Uuid) -> Result<()> {
        self.change_securt(id, |tree, _| {
            node(tree, "lines").clear();
            Ok(())
        })
    }

    /// Sets the motion area (empty: the whole frame).
    pub fn set_motion_area(&self, id: Uuid, polygon: Vec<Point>) -> Result<()> {
        if !polygon.is_empty() {
            check_polygon("coordinates", &polygon)?;
        }
        self.set_securt_value(id, "motionArea", serde_json::to_value(polygon))
    }

    /// Replaces the exclusion areas (empty: none).
    pub fn set_exclusion_areas(&self, id: Uuid, polygons: Vec<Vec<Point>>) -> Result<()> {
        for (i, p) in polygons.iter().enumerate() {
            check_polygon(&format!("areas[{i}]"), p)?;
        }
        self.set_securt_value(id, "exclusionAreas", serde_json::to_value(polygons))
    }

    /// Sets the appearance search mode.
    pub fn set_appearance_search(&self, id: Uuid, mode: AppearanceSearch) -> Result<()> {
        self.set_securt_value(id, "appearanceSearch", serde_json::to_value(mode))
    }

    fn set_securt_value(
        &self,
        id: Uuid,
        key: &str,
        value: serde_json::Result<Value>,
    ) -> Result<()> {
        let value = value.map_err(|e| Error::invalid(key, e.to_string()))?;
        let path = format!("{ROOT}/{key}");
        self.change_securt(id, move |tree, _| config_tree::set(tree, &path, value))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::SettingsPatch;

    fn engine_with(solution: &str) -> (Engine, Uuid) {
        let e = Engine::in_memory(crate::engine::test_runner::runner());
        let id = e
            .create(None, &SettingsPatch { solution: Some(solution.into()), ..Default::default() })
            .unwrap();
        (e, id)
    }

    fn square() -> Vec<Point> {
        [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9)].iter().map(|&(x, y)| Point { x, y }).collect()
    }

    #[test]
    fn areas_and_lines_live_in_the_config_tree() {
        let (e, id) = engine_with(SECURT);
        let w =
            EntityWrite { name: Some("door".into()), coordinates: square(), ..Default::default() };
        let a = e.create_area(id, None, AreaKind::Intrusion, w).unwrap();
        assert!(a.parse::<Uuid>().is_ok(), "a generated id is a UUID: {a}");
        let line = EntityWrite {
            coordinates: vec![Point { x: 0.0, y: 0.5 }, Point { x: 1.0, y: 0.5 }],
            ..Default::default()
        };
        let l = e.create_line(id, None, LineKind::Counting, line.clone()).unwrap();
        let tree = Value::Object(e.config(id).unwrap());
        assert_eq!(tree["SecuRT"]["areas"][&a]["name"], json!("door"));
        assert_eq!(tree["SecuRT"]["lines"][&l]["type"], json!("LineCounting"));
        e.delete_entity(id, EntityKind::Area, &a).unwrap();
        let gone = e.delete_entity(id, EntityKind::Area, &a);
        assert!(matches!(gone, Err(Error::EntityNotFound { kind: "area", .. })), "{gone:?}");
        e.delete_lines(id).unwrap();
        assert!(e.securt_config(id).unwrap().lines.is_empty());
    }

    /// RT's own test: `area_id` is an area and a line at once; a second
    /// area with it is refused, and each delete removes only its kind.
    #[test]
    fn an_area_and_a_line_may_share_a_caller_chosen_id() {
        let (e, id) = engine_with(SECURT);
        let area = || EntityWrite { coordinates: square(), ..Default::default() };
        let line = EntityWrite {
            coordinates: vec![Point { x: 0.0, y: 0.5 }, Point { x: 1.0, y: 0.5 }],
            ..Default::default()
        };
        let shared = Some("area_id".to_string());
        assert_eq!(
            e.create_area(id, shared.clone(), AreaKind::Intrusion, area()).unwrap(),
            "area_id"
        );
        assert_eq!(e.create_line(id, shared.clone(), LineKind::Crossing, line).unwrap(), "area_id");
        let again = e.create_area(id, shared, AreaKind::Crossing, area());
        assert!(
            matches!(&again, Err(Error::EntityExists { kind: "area", id }) if id == "area_id"),
            "{again:?}"
        );
        assert_eq!(again.unwrap_err().to_string(), "area 'area_id' already exists");
        let bad = e.create_area(id, Some("a/b".into()), AreaKind::Intrusion, area());
        assert!(bad.unwrap_err().to_string().starts_with("areaId: 'a/b' contains '/'"));
        let bad = e.delete_entity(id, EntityKind::Line, &"x".repeat(129)).unwrap_err();
        assert!(bad.to_string().starts_with("lineId: is 129 characters long"), "{bad}");
        e.delete_entity(id, EntityKind::Line, "area_id").unwrap();
        let cfg = e.securt_config(id).unwrap();
        assert!(cfg.lines.is_empty() && cfg.area("area_id").is_some());
        assert!(matches!(
            e.delete_entity(id, EntityKind::Line, "area_id"),
            Err(Error::EntityNotFound { kind: "line", .. })
        ));
    }

    #[test]
    fn options_are_validated_and_stored() {
        let (e, id) = engine_with(SECURT);
        e.set_motion_area(id, square()).unwrap();
        e.set_motion_area(id, vec![]).unwrap();
        e.set_exclusion_areas(id, vec![square(), square()]).unwrap();
        e.set_appearance_search(id, AppearanceSearch::Vehicle).unwrap();
        let cfg = e.securt_config(id).unwrap();
        assert!(cfg.motion_area.is_empty());
        assert_eq!(cfg.exclusion_areas.len(), 2);
        assert_eq!(cfg.appearance_search, AppearanceSearch::Vehicle);
        let err = e.set_exclusion_areas(id, vec![square(), square()[..2].to_vec()]).unwrap_err();
        assert!(err.to_string().starts_with("areas[1]: an area needs at least 3 points"), "{err}");
        assert_eq!(e.securt_config(id).unwrap().exclusion_areas.len(), 2);
    }

    #[test]
    fn a_config_write_cannot_break_an_area() {
        let (e, id) = engine_with(SECURT);
        let w = EntityWrite { coordinates: square(), ..Default::default() };
        let a = e.create_area(id, None, AreaKind::Loitering, w).unwrap();
        let err = e.set_config(id, &format!("SecuRT/areas/{a}/seconds"), "-4").unwrap_err();
        assert!(err.to_string().contains(&format!("SecuRT/areas/{a}")), "{err}");
        e.set_config(id, &format!("SecuRT/areas/{a}/seconds"), "30").unwrap();
        let cfg = e.securt_config(id).unwrap();
        assert!(matches!(
            cfg.areas[0].rule,
            crate::securt::AreaRule::Loitering { seconds: 30, .. }
        ));
    }
}
