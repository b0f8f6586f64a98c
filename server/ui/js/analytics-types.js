// The SecuRT area and line types the contract allows (pure, DOM-free): for
// each, the path segment of `POST /v1/securt/instance/{id}/area/<type>` or
// `/line/<type>`, the `analytics_entities` group that lists it, the options
// its write schema takes (with defaults), and building the request body.

export const OBJECT_CLASSES = ['Person', 'Vehicle', 'Animal', 'Face', 'Unknown'];

// option kinds: classes (ObjectClass[]), seconds/objectCount (integers),
// direction (LineDirection), areaEvent (AreaEventType), ignoreStationaryObjects (bool)
export const AREA_TYPES = [
  { type: 'intrusion', label: 'Intrusion', group: 'intrusionAreas', options: { classes: null } },
  {
    type: 'crossing',
    label: 'Crossing (enter / exit)',
    group: 'crossingAreas',
    options: { classes: null, areaEvent: 'Both', ignoreStationaryObjects: false },
  },
  { type: 'loitering', label: 'Loitering', group: 'loiteringAreas', options: { classes: null, seconds: 120 } },
  { type: 'crowding', label: 'Crowding', group: 'crowdingAreas', options: { classes: null, objectCount: 5, seconds: 0 } },
  { type: 'occupancy', label: 'Occupancy', group: 'occupancyAreas', options: { classes: null } },
  { type: 'dwelling', label: 'Dwelling', group: 'dwellingAreas', options: { classes: null, seconds: 60 } },
  { type: 'object_left', label: 'Object left', group: 'objectLeftAreas', options: { seconds: null } },
  { type: 'object_removed', label: 'Object removed', group: 'objectRemovedAreas', options: { seconds: null } },
  { type: 'fallen_person', label: 'Fallen person', group: 'fallenPersonAreas', options: {} },
  { type: 'armed_person', label: 'Armed person (needs a weapon model)', group: 'armedPersonAreas', options: {} },
  { type: 'crowd_estimation', label: 'Crowd estimation (needs a model)', group: 'crowdEstimationAreas', options: {} },
  { type: 'alpr', label: 'Licence plates (needs a model)', group: 'alprAreas', options: {} },
];

export const LINE_TYPES = [
  { type: 'crossing', label: 'Crossing', group: 'crossingLines', options: { classes: null, direction: 'Both' } },
  { type: 'counting', label: 'Counting', group: 'countingLines', options: { classes: null, direction: 'Both' } },
  {
    type: 'tailgating',
    label: 'Tailgating',
    group: 'tailgatingLines',
    options: { classes: null, direction: 'Both', seconds: 3 },
  },
];

export const AREA_EVENTS = ['Both', 'Enter', 'Exit'];
export const DIRECTIONS = ['Both', 'Up', 'Down'];

export function typeDef(kind, type) {
  return (kind === 'line' ? LINE_TYPES : AREA_TYPES).find((t) => t.type === type);
}

// Initial form values for a type: its defaults (empty class list = every class).
export function defaultOptions(def) {
  const o = {};
  for (const [k, v] of Object.entries(def.options)) o[k] = k === 'classes' ? [] : v;
  return o;
}

// Request body for creating an area or line of `def`, from the form values
// and the normalised points. Options the type does not take are left out (the
// server rejects them); an empty class list or an empty number is left out so
// that the server's default applies.
export function buildBody(def, form, coordinates) {
  const body = { name: form.name || '', coordinates: coordinates.map((p) => ({ x: p.x, y: p.y })) };
  if (form.color) body.color = form.color;
  for (const k of Object.keys(def.options)) {
    const v = form[k];
    if (k === 'classes') {
      if (Array.isArray(v) && v.length > 0) body.classes = v;
    } else if (k === 'seconds' || k === 'objectCount') {
      if (v !== '' && v !== null && v !== undefined) body[k] = Number(v);
    } else if (v !== undefined && v !== null && v !== '') {
      body[k] = v;
    }
  }
  return body;
}

// Every entity of an `analytics_entities` answer, flattened:
// [{kind: 'area'|'line', def, entity}].
export function flattenEntities(entities) {
  const out = [];
  for (const def of AREA_TYPES) for (const e of entities?.[def.group] ?? []) out.push({ kind: 'area', def, entity: e });
  for (const def of LINE_TYPES) for (const e of entities?.[def.group] ?? []) out.push({ kind: 'line', def, entity: e });
  return out;
}

// RGBA 0..1 (contract `Color`) -> CSS rgba().
export function cssColor(c, fallback = 'rgba(255,0,0,1)') {
  if (!Array.isArray(c) || c.length < 3) return fallback;
  const [r, g, b, a = 1] = c;
  return `rgba(${Math.round(r * 255)},${Math.round(g * 255)},${Math.round(b * 255)},${a})`;
}

// "#rrggbb" (an <input type=color> value) -> contract `Color` (opaque).
export function hexToColor(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || '');
  if (!m) return [1, 0, 0, 1];
  return [parseInt(m[1], 16) / 255, parseInt(m[2], 16) / 255, parseInt(m[3], 16) / 255, 1].map((v) => Math.round(v * 1000) / 1000);
}
