// Live video of an instance: `GET .../instance/{id}/mjpeg` (multipart JPEG
// frames with the server-drawn overlay). Without a token it is a plain
// <img src> (the browser's own multipart decoding, lowest latency); with a
// token it is fetched with the Authorization header and decoded with
// MultipartParser into object URLs, newest frame wins. Unmounting empties
// the src, which closes the connection and frees the server's branch.

import { html, useEffect, useRef, useState } from './ui.js';
import { paths, getToken, authFetch } from './api.js';
import { MultipartParser } from './multipart.js';

function useFetchedMjpeg(url, imgRef, enabled) {
  useEffect(() => {
    if (!enabled) return undefined;
    const ctl = new AbortController();
    let shown = null;
    (async () => {
      const res = await authFetch(url, { signal: ctl.signal });
      if (!res.ok) throw new Error(`${res.status}`);
      const reader = res.body.getReader();
      const parser = new MultipartParser('frame');
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = parser.push(value);
        if (parts.length && imgRef.current) {
          const next = URL.createObjectURL(new Blob([parts[parts.length - 1]], { type: 'image/jpeg' }));
          imgRef.current.src = next;
          if (shown) URL.revokeObjectURL(shown);
          shown = next;
        }
      }
    })().catch(() => {});
    return () => {
      ctl.abort();
      if (shown) URL.revokeObjectURL(shown);
    };
  }, [url, enabled]);
}

export function LiveView({ id, running, label = 'Live video' }) {
  const img = useRef(null);
  const [failed, setFailed] = useState(false);
  const viaFetch = Boolean(getToken());
  const url = paths.mjpeg(id);
  useFetchedMjpeg(url, img, running && viaFetch);
  useEffect(() => {
    setFailed(false);
    const el = img.current;
    return () => {
      if (el) {
        el.src = '';
        el.remove();
      }
    };
  }, [id, running]);
  if (!running) return html`<div class="live placeholder" role="img" aria-label=${label}>Not running: start the instance to see live video.</div>`;
  return html`<div class="live" key=${`${id}-${running}`}>
    <img ref=${img} id="live-view" alt=${label} src=${viaFetch ? undefined : url} onError=${() => setFailed(true)} onLoad=${() => setFailed(false)} />
    ${failed && html`<p class="muted small">The live stream is not available (yet); it starts with the instance's first frame.</p>`}
  </div>`;
}
