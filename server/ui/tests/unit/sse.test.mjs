// Unit tests of the SSE wire parser (js/sse.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, backoffDelay } from '../../js/sse.js';

const all = (chunks) => {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
};

test('id, event and one-line data', () => {
  const r = all(['id: 42\nevent: track\ndata: {"a":1}\n\n']);
  assert.deepEqual(r, [{ id: '42', event: 'track', data: '{"a":1}' }]);
});

test('multi-line data is joined with LF; event defaults to message', () => {
  assert.deepEqual(all(['data: a\ndata: b\ndata\n\n']), [{ id: '', event: 'message', data: 'a\nb\n' }]);
});

test('comments and keep-alives are ignored', () => {
  assert.deepEqual(all([': keep-alive\n\n', ':x\nid: 1\nevent: e\n: mid\ndata: d\n\n']), [{ id: '1', event: 'e', data: 'd' }]);
});

test('CRLF and lone CR line ends', () => {
  assert.deepEqual(all(['id: 1\r\nevent: e\r\ndata: x\r\n\r\n', 'data: y\r\r']), [
    { id: '1', event: 'e', data: 'x' },
    { id: '1', event: 'message', data: 'y' },
  ]);
});

test('a CRLF split between chunks is one line end', () => {
  assert.deepEqual(all(['data: a\r', '\n\r', '\n']), [{ id: '', event: 'message', data: 'a' }]);
});

test('chunk boundaries anywhere give the same records', () => {
  const text = 'id: 7\r\nevent: statistics\r\ndata: {"fps":"9.5","s":"é✓"}\r\n\r\n: ka\n\nid: 8\nevent: track\ndata: x\n\n';
  const bytes = new TextEncoder().encode(text);
  const expect = all([text]);
  assert.equal(expect.length, 2);
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(all([bytes.slice(0, cut), bytes.slice(cut)]), expect, `cut at byte ${cut}`);
  }
  // one byte at a time
  assert.deepEqual(all([...bytes].map((b) => new Uint8Array([b]))), expect);
});

test('id persists; an id with NUL is ignored; a record without data is not sent', () => {
  const r = all(['id: 5\nevent: a\n\n', 'event: b\ndata: 1\n\n', 'id: bad\0\ndata: 2\n\n']);
  assert.deepEqual(r, [
    { id: '5', event: 'b', data: '1' },
    { id: '5', event: 'message', data: '2' },
  ]);
});

test('field without colon, no space after colon, unknown fields, retry', () => {
  const r = all(['data:x\nfoo: bar\nretry: 3000\nretry: x\nevent:e\n\n']);
  assert.deepEqual(r, [{ id: '', event: 'e', data: 'x', retry: 3000 }]);
});

test('an incomplete record at the end is not dispatched', () => {
  assert.deepEqual(all(['data: a\n']), []);
});

test('leading BOM is dropped', () => {
  assert.deepEqual(all(['\ufeffdata: a\n\n']), [{ id: '', event: 'message', data: 'a' }]);
});

test('backoff grows and is capped', () => {
  const r = () => 1;
  assert.equal(backoffDelay(0, 500, 15000, r), 500);
  assert.equal(backoffDelay(3, 500, 15000, r), 4000);
  assert.equal(backoffDelay(10, 500, 15000, r), 15000);
  assert.equal(backoffDelay(0, 500, 15000, () => 0), 400);
});
