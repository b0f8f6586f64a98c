// Chart geometry (pure, DOM-free): the SVG path of a sparkline and the
// stacked bars of counts per time bucket and class. Rendering is in
// components/charts.js; no chart library is used.

// SVG path ("M x y L x y ...") of `values` in a `width` x `height` box, the
// newest value at the right. Non-finite values are skipped. `min`/`max`
// default to the data's range (a flat series sits in the middle).
export function sparklinePath(values, width, height, opts = {}) {
  const pts = values.map((v, i) => [i, Number(v)]).filter(([, v]) => Number.isFinite(v));
  if (pts.length === 0) return '';
  let min = opts.min ?? Math.min(...pts.map(([, v]) => v));
  let max = opts.max ?? Math.max(...pts.map(([, v]) => v));
  if (max === min) {
    max += 1;
    min -= 1;
  }
  const n = Math.max(values.length - 1, 1);
  const pad = 1;
  const h = height - 2 * pad;
  return pts
    .map(([i, v], k) => {
      const x = (i / n) * width;
      const y = pad + h - ((v - min) / (max - min)) * h;
      return `${k === 0 ? 'M' : 'L'}${x.toFixed(1)} ${y.toFixed(1)}`;
    })
    .join(' ');
}

// Rows of `/v1/database/analytics` grouped by `groupKey` with `bucket`
// (interval) -> {buckets: [bucket...] ascending, groups: [name...],
// counts: {group: [n per bucket]}, totals: [n per bucket], max}.
export function pivotBuckets(rows, metric, groupKey) {
  const buckets = [...new Set(rows.map((r) => r.bucket))].sort();
  const groups = [...new Set(rows.map((r) => String(r[groupKey] ?? '—')))].sort();
  const index = new Map(buckets.map((b, i) => [b, i]));
  const counts = Object.fromEntries(groups.map((g) => [g, buckets.map(() => 0)]));
  for (const r of rows) counts[String(r[groupKey] ?? '—')][index.get(r.bucket)] += Number(r[metric]) || 0;
  const totals = buckets.map((_, i) => groups.reduce((s, g) => s + counts[g][i], 0));
  return { buckets, groups, counts, totals, max: Math.max(0, ...totals) };
}

// Stacked bar rectangles for a pivot in a `width` x `height` plot area:
// [{x, y, w, h, group, bucket, value}], bars in bucket order, groups stacked
// bottom-up in `groups` order.
export function stackedBars(pivot, width, height, gap = 2) {
  const n = pivot.buckets.length;
  if (n === 0 || pivot.max === 0) return [];
  const slot = width / n;
  const w = Math.max(1, slot - gap);
  const out = [];
  pivot.buckets.forEach((bucket, i) => {
    let y = height;
    for (const g of pivot.groups) {
      const v = pivot.counts[g][i];
      if (!v) continue;
      const h = (v / pivot.max) * height;
      y -= h;
      out.push({ x: i * slot + gap / 2, y, w, h, group: g, bucket, value: v });
    }
  });
  return out;
}

// "Nice" axis maximum and tick step for counts: 0..max in 3-5 whole steps.
export function niceScale(max) {
  if (max <= 0) return { max: 1, step: 1 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const s = Math.max(1, Math.round(step));
  return { max: Math.ceil(max / s) * s, step: s };
}

// Spreads a pivot over every `unit` ('hour' or 'day', aligned to UTC as the
// server aligns buckets) from `startMs` to `endMs`, so empty periods show as
// gaps. Buckets are keyed by time, whatever their string form. Left as is
// when that would give more than `maxBuckets` buckets.
export function fillBuckets(pivot, startMs, endMs, unit, maxBuckets = 400) {
  const step = unit === 'day' ? 86400e3 : unit === 'hour' ? 3600e3 : 0;
  if (!step || !(endMs > startMs) || (endMs - startMs) / step > maxBuckets) return pivot;
  const times = new Set();
  for (let t = Math.floor(startMs / step) * step; t < endMs; t += step) times.add(t);
  const known = new Map(pivot.buckets.map((b, i) => [Date.parse(b), i]));
  for (const t of known.keys()) if (Number.isFinite(t)) times.add(t);
  const sorted = [...times].sort((a, b) => a - b);
  const buckets = sorted.map((t) => new Date(t).toISOString().replace('.000Z', 'Z'));
  const counts = Object.fromEntries(
    pivot.groups.map((g) => [g, sorted.map((t) => (known.has(t) ? pivot.counts[g][known.get(t)] : 0))]),
  );
  const totals = sorted.map((_, i) => pivot.groups.reduce((s, g) => s + counts[g][i], 0));
  return { buckets, groups: pivot.groups, counts, totals, max: Math.max(0, ...totals) };
}
