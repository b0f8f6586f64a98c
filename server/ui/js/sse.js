// Server-Sent Events wire parser (pure, DOM-free): turns text/event-stream
// chunks, split anywhere (even inside a UTF-8 character or a CRLF), into
// records {id, event, data, retry}. Follows the WHATWG "event stream
// interpretation" rules: fields id/event/data/retry, multi-line data joined by
// "\n", comment lines (":") ignored, CR, LF and CRLF line ends, an id that
// persists across records (Last-Event-ID). The network side is stream.js.

export class SseParser {
  constructor() {
    this.decoder = new TextDecoder('utf-8');
    this.pending = ''; // text of an incomplete line
    this.skipLf = false; // the previous chunk ended in CR: drop a leading LF
    this.started = false; // a leading BOM is dropped once
    this.lastEventId = '';
    this.resetRecord();
  }

  resetRecord() {
    this.data = [];
    this.hasData = false;
    this.event = '';
    this.retry = undefined;
  }

  // Feeds a chunk (string or Uint8Array); returns the records it completes.
  push(chunk) {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.skipLf && text.length > 0) {
      if (text[0] === '\n') text = text.slice(1);
      this.skipLf = false;
    }
    const out = [];
    let buf = this.pending + text;
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(buf.slice(start, i), out);
      if (c === '\r') {
        if (i + 1 < buf.length) {
          if (buf[i + 1] === '\n') i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
    }
    this.pending = buf.slice(start);
    return out;
  }

  // One complete line (without its end).
  line(line, out) {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line[0] === ':') return; // comment (keep-alive)
    const colon = line.indexOf(':');
    let field = line;
    let value = '';
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
    }
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  dispatch(out) {
    if (this.hasData) {
      const rec = { id: this.lastEventId, event: this.event || 'message', data: this.data.join('\n') };
      if (this.retry !== undefined) rec.retry = this.retry;
      out.push(rec);
    }
    this.resetRecord();
  }
}

// Delay before reconnect attempt `attempt` (0-based): exponential from `base`
// ms, capped at `max`, with up to 20 % jitter from `rand` (0..1).
export function backoffDelay(attempt, base = 500, max = 15000, rand = Math.random) {
  const d = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(d * (0.8 + 0.2 * rand()));
}
