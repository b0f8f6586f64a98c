// Unit tests of chart geometry (js/charts.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sparklinePath, pivotBuckets, stackedBars, niceScale, fillBuckets } from '../../js/charts.js';

test('sparkline spans the box, newest at the right', () => {
  const p = sparklinePath([0, 5, 10], 100, 22);
  assert.equal(p, 'M0.0 21.0 L50.0 11.0 L100.0 1.0');
  assert.equal(sparklinePath([], 100, 20), '');
  assert.match(sparklinePath([3, 3], 10, 22), /^M0\.0 11\.0 L10\.0 11\.0$/);
  assert.equal(sparklinePath([1, NaN, 3], 10, 22, { min: 0, max: 4 }).split('L').length, 2);
});

test('pivot analytics rows by bucket and class', () => {
  const rows = [
    { bucket: '2024-11-27T09:00:00Z', object_class: 'Person', n: 3 },
    { bucket: '2024-11-27T08:00:00Z', object_class: 'Person', n: 2 },
    { bucket: '2024-11-27T09:00:00Z', object_class: 'Vehicle', n: 4 },
  ];
  const p = pivotBuckets(rows, 'n', 'object_class');
  assert.deepEqual(p.buckets, ['2024-11-27T08:00:00Z', '2024-11-27T09:00:00Z']);
  assert.deepEqual(p.groups, ['Person', 'Vehicle']);
  assert.deepEqual(p.counts, { Person: [2, 3], Vehicle: [0, 4] });
  assert.deepEqual(p.totals, [2, 7]);
  assert.equal(p.max, 7);
  const bars = stackedBars(p, 100, 70, 0);
  assert.equal(bars.length, 3);
  const top = bars.filter((b) => b.bucket === '2024-11-27T09:00:00Z');
  assert.deepEqual(top.map((b) => [b.group, b.h]), [['Person', 30], ['Vehicle', 40]]);
  assert.equal(top[1].y, 0);
  assert.deepEqual(stackedBars(pivotBuckets([], 'n', 'c'), 10, 10), []);
});

test('nice scale', () => {
  assert.deepEqual(niceScale(0), { max: 1, step: 1 });
  assert.deepEqual(niceScale(7), { max: 8, step: 2 });
  assert.deepEqual(niceScale(93), { max: 100, step: 50 });
});

test('fill buckets over the range, keyed by time', () => {
  const p = pivotBuckets([{ bucket: '2024-11-27T09:00:00+00:00', object_class: 'Person', n: 3 }], 'n', 'object_class');
  const f = fillBuckets(p, Date.parse('2024-11-27T07:30:00Z'), Date.parse('2024-11-27T10:00:00Z'), 'hour');
  assert.deepEqual(f.buckets, ['2024-11-27T07:00:00Z', '2024-11-27T08:00:00Z', '2024-11-27T09:00:00Z']);
  assert.deepEqual(f.counts.Person, [0, 0, 3]);
  assert.equal(f.max, 3);
  assert.equal(fillBuckets(p, 0, 1e12, 'hour'), p); // too many buckets: unchanged
});
