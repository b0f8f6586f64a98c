// Parser of a `multipart/x-mixed-replace` body (pure, DOM-free), as served by
// `GET .../instance/{id}/mjpeg` (boundary `frame`): bytes in, one Uint8Array
// per part out. Used when the live view has to be fetched with an
// Authorization header (an <img src> cannot send one). A part's length comes
// from its Content-Length header, or else from the next boundary.

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

function indexOf(hay, needle, from) {
  outer: for (let i = Math.max(0, from); i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export class MultipartParser {
  constructor(boundary = 'frame', maxBuffer = 16 << 20) {
    this.delim = enc.encode(`--${boundary}`);
    this.buf = new Uint8Array(0);
    this.maxBuffer = maxBuffer;
  }

  // Feeds bytes; returns the complete parts' bodies.
  push(chunk) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
    const parts = [];
    for (;;) {
      const start = indexOf(this.buf, this.delim, 0);
      if (start < 0) break;
      const hdrEnd = indexOf(this.buf, enc.encode('\r\n\r\n'), start + this.delim.length);
      if (hdrEnd < 0) break;
      const headers = dec.decode(this.buf.subarray(start + this.delim.length, hdrEnd));
      const m = /content-length:\s*(\d+)/i.exec(headers);
      const bodyStart = hdrEnd + 4;
      let bodyEnd;
      let next;
      if (m) {
        bodyEnd = bodyStart + Number(m[1]);
        if (bodyEnd > this.buf.length) break;
        next = bodyEnd;
      } else {
        const nextDelim = indexOf(this.buf, this.delim, bodyStart);
        if (nextDelim < 0) break;
        bodyEnd = nextDelim;
        if (this.buf[bodyEnd - 1] === 0x0a) bodyEnd--;
        if (this.buf[bodyEnd - 1] === 0x0d) bodyEnd--;
        next = nextDelim;
      }
      parts.push(this.buf.slice(bodyStart, bodyEnd));
      this.buf = this.buf.slice(next);
    }
    if (this.buf.length > this.maxBuffer) this.buf = new Uint8Array(0); // resync on garbage
    return parts;
  }
}
