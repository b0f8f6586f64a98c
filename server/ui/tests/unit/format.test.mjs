// Unit tests of display formatting (js/format.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as f from '../../js/format.js';

test('durations', () => {
  assert.equal(f.formatDuration(450), '450 ms');
  assert.equal(f.formatDuration(3200), '3.2 s');
  assert.equal(f.formatDuration(42000), '42 s');
  assert.equal(f.formatDuration(245000), '4 min 05 s');
  assert.equal(f.formatDuration(2 * 3600e3 + 3 * 60e3), '2 h 03 min');
  assert.equal(f.formatDuration(3 * 86400e3 + 4 * 3600e3), '3 d 4 h');
  assert.equal(f.formatDuration(undefined), '—');
  assert.equal(f.formatDuration(-1500), '-1.5 s');
});

test('rates and counts', () => {
  assert.equal(f.formatRate(9.456), '9.46 fps');
  assert.equal(f.formatRate(12.34), '12.3 fps');
  assert.equal(f.formatRate(120.4, 'ms'), '120 ms');
  assert.equal(f.formatRate('x'), '—');
  assert.equal(f.formatCount(1234567), '1\u202f234\u202f567');
  assert.equal(f.formatCount(12), '12');
});

test('timestamps in local time', () => {
  const d = new Date(2024, 10, 27, 9, 3, 7, 45);
  assert.equal(f.formatTimestamp(d.getTime()), '2024-11-27 09:03:07');
  assert.equal(f.formatTimestamp(String(d.getTime())), '2024-11-27 09:03:07');
  assert.equal(f.formatTimestamp(d.toISOString()), '2024-11-27 09:03:07');
  assert.equal(f.formatTimestamp('nope'), 'nope');
  assert.equal(f.formatTimestamp(null), '—');
  assert.equal(f.formatClock(d.getTime()), '09:03:07.045');
});

test('datetime-local round trip', () => {
  const d = new Date(2024, 0, 2, 3, 4);
  const v = f.dateToLocalInput(d);
  assert.equal(v, '2024-01-02T03:04');
  assert.equal(f.localInputToIso(v), d.toISOString());
  assert.equal(f.localInputToIso(''), '');
});

test('bytes', () => {
  assert.equal(f.formatBytes(512), '512 B');
  assert.equal(f.formatBytes(1536), '1.5 KiB');
});
