// Unit tests of the editor geometry (js/geometry.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as g from '../../js/geometry.js';

const rect = { left: 100, top: 50, width: 800, height: 600 };

test('pixel -> normalised, origin top-left, clamped', () => {
  assert.deepEqual(g.toNormalized(100, 50, rect), { x: 0, y: 0 });
  assert.deepEqual(g.toNormalized(900, 650, rect), { x: 1, y: 1 });
  assert.deepEqual(g.toNormalized(500, 200, rect), { x: 0.5, y: 0.25 });
  assert.deepEqual(g.toNormalized(50, 9999, rect), { x: 0, y: 1 });
  assert.deepEqual(g.toNormalized(100 + 800 / 3, 50, rect), { x: 0.3333, y: 0 });
});

test('normalised -> pixels round-trips', () => {
  const p = g.toPixels({ x: 0.25, y: 0.75 }, 768, 576);
  assert.deepEqual(p, { x: 192, y: 432 });
  const n = g.toNormalized(p.x, p.y, { left: 0, top: 0, width: 768, height: 576 });
  assert.deepEqual(n, { x: 0.25, y: 0.75 });
});

test('vertex hit testing picks the nearest within the radius', () => {
  const pts = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 12, y: 0 }];
  assert.equal(g.hitVertex(pts, { x: 11.5, y: 1 }, 5), 2);
  assert.equal(g.hitVertex(pts, { x: 1, y: 1 }, 5), 0);
  assert.equal(g.hitVertex(pts, { x: 30, y: 30 }, 5), -1);
});

test('a polygon closes on its first point once it has 3 points', () => {
  const two = [{ x: 0, y: 0 }, { x: 10, y: 0 }];
  assert.equal(g.closesPolygon(two, { x: 0, y: 1 }, 6), false);
  const three = [...two, { x: 10, y: 10 }];
  assert.equal(g.closesPolygon(three, { x: 2, y: 3 }, 6), true);
  assert.equal(g.closesPolygon(three, { x: 20, y: 3 }, 6), false);
});

test('point in polygon and distance to segment', () => {
  const sq = [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }, { x: 0, y: 1 }];
  assert.equal(g.pointInPolygon({ x: 0.5, y: 0.5 }, sq), true);
  assert.equal(g.pointInPolygon({ x: 1.5, y: 0.5 }, sq), false);
  assert.equal(g.distanceToSegment({ x: 5, y: 3 }, { x: 0, y: 0 }, { x: 10, y: 0 }), 3);
  assert.equal(g.distanceToSegment({ x: -4, y: 3 }, { x: 0, y: 0 }, { x: 10, y: 0 }), 5);
});

test('Up is the left of the walker: towards the top for a left-to-right line', () => {
  const n = g.upNormal({ x: 0, y: 5 }, { x: 10, y: 5 });
  assert.deepEqual([n.x, n.y + 0], [0, -1]);
  // drawn right to left: Up points down the image
  const r = g.upNormal({ x: 10, y: 5 }, { x: 0, y: 5 });
  assert.deepEqual([r.x + 0, r.y], [0, 1]);
  // drawn top to bottom: walker's left is image right (+x)
  const v = g.upNormal({ x: 5, y: 0 }, { x: 5, y: 10 });
  assert.deepEqual([v.x, v.y + 0], [1, 0]);
});

test('direction arrows start mid-line; Both gives two, flip swaps Up/Down', () => {
  const [up] = g.directionArrows({ x: 0, y: 10 }, { x: 20, y: 10 }, 'Up', 4);
  assert.deepEqual(up.from, { x: 10, y: 10 });
  assert.deepEqual(up.to, { x: 10, y: 6 });
  const [down] = g.directionArrows({ x: 0, y: 10 }, { x: 20, y: 10 }, 'Down', 4);
  assert.deepEqual(down.to, { x: 10, y: 14 });
  assert.equal(g.directionArrows({ x: 0, y: 0 }, { x: 1, y: 0 }, 'Both', 1).length, 2);
  assert.equal(g.flipDirection('Up'), 'Down');
  assert.equal(g.flipDirection('Down'), 'Up');
  assert.equal(g.flipDirection('Both'), 'Both');
});

test('arrow head barbs sit behind the tip', () => {
  const [b1, b2] = g.arrowHead({ x: 0, y: 0 }, { x: 10, y: 0 }, 2);
  assert.ok(b1.x < 10 && b2.x < 10);
  assert.ok(Math.abs(b1.y + b2.y) < 1e-9);
});

test('moveVertex returns a new array', () => {
  const pts = [{ x: 0, y: 0 }, { x: 1, y: 1 }];
  const moved = g.moveVertex(pts, 1, { x: 0.5, y: 0.5 });
  assert.deepEqual(moved, [{ x: 0, y: 0 }, { x: 0.5, y: 0.5 }]);
  assert.deepEqual(pts[1], { x: 1, y: 1 });
});
