// Geometry of the zone and line editor (pure, DOM-free): pixel <-> normalised
// coordinates (0..1, origin top-left, as the contract's `Coordinate`), hit
// testing of vertices, polygons and lines, closing a polygon on its first
// point, and the direction arrow of a line: for a line drawn from A to B,
// `Up` is the side on the left when walking from A to B on the image
// (analytics-semantics.md; for a line drawn left to right, Up is towards the
// top of the image).

const clamp01 = (v) => Math.min(1, Math.max(0, v));

// Rounds to 4 decimals (a tenth of a pixel on a 1000 px frame).
export const round4 = (v) => Math.round(v * 1e4) / 1e4;

// Client (pixel) point -> normalised point inside `rect` {left, top, width, height}.
export function toNormalized(clientX, clientY, rect) {
  return {
    x: round4(clamp01((clientX - rect.left) / rect.width)),
    y: round4(clamp01((clientY - rect.top) / rect.height)),
  };
}

// Normalised point -> pixel point in a box of `width` x `height`.
export function toPixels(p, width, height) {
  return { x: p.x * width, y: p.y * height };
}

export function distance(a, b) {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

// Index of the vertex (pixel coordinates) nearest to `p` within `radius`, or -1.
export function hitVertex(points, p, radius) {
  let best = -1;
  let bestD = radius;
  points.forEach((q, i) => {
    const d = distance(q, p);
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}

// True when a click at `p` closes the polygon being drawn: at least 3 points
// and `p` on the first one (within `radius`, pixel coordinates).
export function closesPolygon(points, p, radius) {
  return points.length >= 3 && distance(points[0], p) <= radius;
}

// Ray casting; `poly` is an array of {x, y}.
export function pointInPolygon(p, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i];
    const b = poly[j];
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

export function distanceToSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2));
  return distance(p, { x: a.x + t * dx, y: a.y + t * dy });
}

// Unit normal pointing to the `Up` side of the line A->B, in image coordinates
// (y grows downwards): the left of the walker, (dy, -dx) normalised.
export function upNormal(a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: dy / len, y: -dx / len };
}

// Arrows to draw for a line with `direction` Up, Down or Both: each is
// {from, to} starting at the middle of the segment, `length` long (same units
// as the points).
export function directionArrows(a, b, direction, length) {
  const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  const n = upNormal(a, b);
  const arrow = (s) => ({ from: mid, to: { x: mid.x + s * n.x * length, y: mid.y + s * n.y * length } });
  if (direction === 'Up') return [arrow(1)];
  if (direction === 'Down') return [arrow(-1)];
  return [arrow(1), arrow(-1)];
}

// The two barbs of an arrow head at `to`, `size` long.
export function arrowHead(from, to, size) {
  const ang = Math.atan2(to.y - from.y, to.x - from.x);
  const barb = (d) => ({ x: to.x - size * Math.cos(ang + d), y: to.y - size * Math.sin(ang + d) });
  return [barb(Math.PI / 6), barb(-Math.PI / 6)];
}

// Flipping a line's direction: Up <-> Down; Both stays Both.
export function flipDirection(direction) {
  return direction === 'Up' ? 'Down' : direction === 'Down' ? 'Up' : 'Both';
}

// Moves vertex `i` of `points` to `p` (returns a new array).
export function moveVertex(points, i, p) {
  return points.map((q, j) => (j === i ? { x: p.x, y: p.y } : q));
}
