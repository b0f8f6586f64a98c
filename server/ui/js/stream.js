// Live event stream over fetch (not EventSource, which cannot send an
// Authorization header): reads `text/event-stream` with a body reader, parses
// it with SseParser, and reconnects with `Last-Event-ID` and backoff until
// closed. Shared by the instance view's feed.

import { SseParser, backoffDelay } from './sse.js';
import { authFetch } from './api.js';

// Opens `path`; calls onRecord({id, event, data}) per record and
// onState('connecting'|'open'|'retrying'|'closed', detail). Returns {close}.
export function openEventStream(path, { onRecord, onState = () => {} }) {
  const ctl = new AbortController();
  let lastId = '';
  let attempt = 0;
  let closed = false;
  let timer = null;

  const run = async () => {
    while (!closed) {
      onState(attempt === 0 ? 'connecting' : 'retrying');
      try {
        const headers = { Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await authFetch(path, { headers, signal: ctl.signal, cache: 'no-store' });
        if (!res.ok) {
          let msg = `${res.status} ${res.statusText}`;
          try {
            msg = (await res.json()).message || msg;
          } catch {
            /* keep status */
          }
          throw new Error(msg);
        }
        onState('open');
        const parser = new SseParser();
        const reader = res.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const rec of parser.push(value)) {
            attempt = 0;
            if (rec.id) lastId = rec.id;
            onRecord(rec);
          }
        }
        if (!closed) onState('retrying', 'stream ended');
      } catch (e) {
        if (closed || e.name === 'AbortError') break;
        onState('retrying', e.message);
      }
      if (closed) break;
      const delay = backoffDelay(attempt++);
      await new Promise((r) => {
        timer = setTimeout(r, delay);
      });
    }
    onState('closed');
  };
  run();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ctl.abort();
    },
  };
}
