// Unit tests of the SecuRT type table and body building (js/analytics-types.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../js/analytics-types.js';

test('every type has a unique path segment per kind and a group', () => {
  for (const list of [t.AREA_TYPES, t.LINE_TYPES]) {
    assert.equal(new Set(list.map((d) => d.type)).size, list.length);
    for (const d of list) assert.match(d.group, /(Areas|Lines)$/);
  }
});

test('intrusion body: classes only when chosen', () => {
  const d = t.typeDef('area', 'intrusion');
  const pts = [{ x: 0.1, y: 0.1 }, { x: 0.9, y: 0.1 }, { x: 0.5, y: 0.9 }];
  assert.deepEqual(t.buildBody(d, { name: 'A', classes: [] }, pts), { name: 'A', coordinates: pts });
  assert.deepEqual(t.buildBody(d, { name: 'A', classes: ['Person'], seconds: 5 }, pts), {
    name: 'A',
    coordinates: pts,
    classes: ['Person'],
  });
});

test('tailgating line body carries direction and seconds as a number', () => {
  const d = t.typeDef('line', 'tailgating');
  const f = { ...t.defaultOptions(d), name: 'L', seconds: '4', direction: 'Up', color: [0, 1, 0, 1] };
  const pts = [{ x: 0, y: 0.5 }, { x: 1, y: 0.5 }];
  assert.deepEqual(t.buildBody(d, f, pts), {
    name: 'L',
    coordinates: pts,
    color: [0, 1, 0, 1],
    direction: 'Up',
    seconds: 4,
  });
});

test('an empty number is left to the server default', () => {
  const d = t.typeDef('area', 'object_left');
  assert.deepEqual(t.defaultOptions(d), { seconds: null });
  assert.equal('seconds' in t.buildBody(d, { seconds: '' }, []), false);
});

test('flatten analytics_entities', () => {
  const flat = t.flattenEntities({ intrusionAreas: [{ id: 'a' }], crossingLines: [{ id: 'l' }], countingLines: [] });
  assert.deepEqual(flat.map((e) => [e.kind, e.def.type, e.entity.id]), [['area', 'intrusion', 'a'], ['line', 'crossing', 'l']]);
});

test('colours', () => {
  assert.equal(t.cssColor([1, 0, 0.5, 1]), 'rgba(255,0,128,1)');
  assert.deepEqual(t.hexToColor('#00ff00'), [0, 1, 0, 1]);
  assert.equal(t.cssColor(null, 'x'), 'x');
});
