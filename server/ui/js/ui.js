// Shared UI pieces of the panel (Preact + htm): the vendored library's
// exports, small hooks (polling, async actions) and widgets used by several
// screens (error note, confirmation and token dialogs, sparkline, stacked bar
// chart, state badge).

import { html, render, useState, useEffect, useRef, useCallback, useMemo } from '/ui/vendor/htm-preact-3.1.1.module.js';
import { sparklinePath, stackedBars, niceScale } from './charts.js';

export { html, render, useState, useEffect, useRef, useCallback, useMemo };

// Runs `fn` now and every `ms` while mounted (and `deps` unchanged); returns
// {data, error, reload}. A slow call is never overlapped by the next.
export function usePoll(fn, ms, deps = []) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const tick = useRef(0);
  const reload = useCallback(async () => {
    const my = ++tick.current;
    try {
      const d = await fn();
      if (my === tick.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (my === tick.current) setError(e);
    }
  }, deps);
  useEffect(() => {
    let stop = false;
    let timer = null;
    const loop = async () => {
      await reload();
      if (!stop && ms) timer = setTimeout(loop, ms);
    };
    loop();
    return () => {
      stop = true;
      tick.current++;
      clearTimeout(timer);
    };
  }, [reload, ms]);
  return { data, error, reload };
}

// Wraps an async action: {run, busy, error, setError}. `run(...)` resolves
// with the action's value, or undefined when it failed (the error is kept).
export function useAction(fn) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await fn(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

export function ErrorNote({ error, prefix }) {
  if (!error) return null;
  const msg = typeof error === 'string' ? error : error.message;
  return html`<p class="error" role="alert">${prefix ? `${prefix}: ` : ''}${msg}</p>`;
}

// A modal <dialog>; `open` drives showModal/close; Escape calls onClose.
export function Modal({ open, onClose, title, children, labelledBy }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} aria-labelledby=${labelledBy} onCancel=${(e) => {
    e.preventDefault();
    onClose();
  }}>
    ${open && html`<h2 id=${labelledBy}>${title}</h2>${children}`}
  </dialog>`;
}

export function ConfirmDialog({ open, title, message, confirmLabel = 'Delete', onConfirm, onClose }) {
  return html`<${Modal} open=${open} onClose=${onClose} title=${title} labelledBy="confirm-title">
    <p>${message}</p>
    <div class="row end">
      <button type="button" onClick=${onClose}>Cancel</button>
      <button type="button" class="danger" onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  <//>`;
}

// The bearer-token dialog; `request` is {reason, resolve} or null.
export function TokenDialog({ request, onDone }) {
  const [token, setToken] = useState('');
  const finish = (t) => {
    request.resolve(t);
    setToken('');
    onDone();
  };
  return html`<${Modal} open=${Boolean(request)} onClose=${() => finish('')} title="Access token" labelledBy="token-title">
    <form onSubmit=${(e) => {
      e.preventDefault();
      finish(token.trim());
    }}>
      <p>The server asks for a token${request?.reason ? ` (${request.reason})` : ''}. It is kept for this tab only.</p>
      <label>Bearer token <input type="password" autocomplete="off" value=${token} onInput=${(e) => setToken(e.target.value)} autofocus /></label>
      <div class="row end">
        <button type="button" onClick=${() => finish('')}>Cancel</button>
        <button type="submit" class="primary">Use token</button>
      </div>
    </form>
  <//>`;
}

export function StateBadge({ inst }) {
  const s = inst.running ? 'Running' : inst.loaded ? 'Loaded' : 'Registered';
  return html`<span class=${`badge state-${s.toLowerCase()}`}>${s}</span>`;
}

// A small live chart of the latest values, with the last value printed.
export function Sparkline({ label, values, format, width = 160, height = 36 }) {
  const last = values.length ? values[values.length - 1] : undefined;
  return html`<figure class="spark">
    <figcaption><span>${label}</span> <strong>${last === undefined ? '—' : format(last)}</strong></figcaption>
    <svg width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`${label} history`}>
      <path d=${sparklinePath(values, width, height, { min: 0 })} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  </figure>`;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777'];

// Stacked bars of a pivot (charts.js `pivotBuckets`), with a y axis, a few x
// labels (`labelOf(bucket)`) and a legend.
export function BarChart({ pivot, labelOf, title }) {
  const W = 640;
  const H = 180;
  const L = 36;
  const B = 22;
  const R = 28; // room for the last x label
  const scale = niceScale(pivot.max);
  const plotH = H - B - 6;
  const bars = stackedBars({ ...pivot, max: scale.max }, W - L - R, plotH);
  const colour = (g) => PALETTE[pivot.groups.indexOf(g) % PALETTE.length];
  const ticks = [];
  for (let v = 0; v <= scale.max; v += scale.step) ticks.push(v);
  const every = Math.max(1, Math.ceil(pivot.buckets.length / 8));
  const slot = (W - L - R) / Math.max(1, pivot.buckets.length);
  return html`<figure class="barchart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${title} data-bars=${bars.length}>
      ${ticks.map((v) => {
        const y = 6 + plotH - (v / scale.max) * plotH;
        return html`<g><line x1=${L} x2=${W - R} y1=${y} y2=${y} class="grid" /><text x=${L - 4} y=${y + 4} text-anchor="end">${v}</text></g>`;
      })}
      <g transform=${`translate(${L},6)`}>
        ${bars.map((b) => html`<rect x=${b.x} y=${b.y} width=${b.w} height=${b.h} fill=${colour(b.group)}><title>${b.group}: ${b.value} (${labelOf(b.bucket)})</title></rect>`)}
      </g>
      ${pivot.buckets.map((b, i) => (i % every === 0 ? html`<text x=${L + i * slot + slot / 2} y=${H - 6} text-anchor="middle">${labelOf(b)}</text>` : null))}
    </svg>
    <figcaption class="legend">${pivot.groups.map((g) => html`<span><i style=${`background:${colour(g)}`}></i>${g}</span>`)}</figcaption>
  </figure>`;
}
