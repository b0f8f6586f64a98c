// Unit tests of the multipart/x-mixed-replace parser (js/multipart.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MultipartParser } from '../../js/multipart.js';

const enc = new TextEncoder();
const cat = (...xs) => {
  const parts = xs.map((x) => (typeof x === 'string' ? enc.encode(x) : x));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const jpeg = (n) => new Uint8Array([0xff, 0xd8, n, 0x2d, 0x2d, 0x66, 0xff, 0xd9]); // contains "--f"

test('parts with Content-Length, split at every byte', () => {
  const body = cat(
    '--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 8\r\n\r\n', jpeg(1), '\r\n',
    '--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 8\r\n\r\n', jpeg(2), '\r\n',
  );
  for (let cut = 1; cut < body.length; cut++) {
    const p = new MultipartParser('frame');
    const got = [...p.push(body.slice(0, cut)), ...p.push(body.slice(cut))];
    assert.deepEqual(got, [jpeg(1), jpeg(2)], `cut ${cut}`);
  }
});

test('parts without Content-Length end at the next boundary', () => {
  const p = new MultipartParser('frame');
  const got = p.push(cat('--frame\r\nContent-Type: image/jpeg\r\n\r\n', jpeg(3), '\r\n--frame\r\nContent-Type: image/jpeg\r\n\r\n', jpeg(4)));
  assert.deepEqual(got, [jpeg(3)]);
  assert.deepEqual(p.push(enc.encode('\r\n--frame--\r\n')), [jpeg(4)]);
});
