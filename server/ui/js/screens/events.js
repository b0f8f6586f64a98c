// Stored data (#/events): events from `/v1/database/events` filtered by time
// range, instance, event type and class, paged with limit + offset; and a
// stacked bar chart of event counts per hour or day by class from
// `/v1/database/analytics`.

import { html, useState, useEffect, usePoll, useAction, ErrorNote, BarChart } from '../ui.js';
import { api, paths } from '../api.js';
import { hrefs } from '../router.js';
import { pivotBuckets, fillBuckets } from '../charts.js';
import { formatTimestamp, formatDuration, dateToLocalInput, localInputToIso } from '../format.js';
import { OBJECT_CLASSES } from '../analytics-types.js';

// `EventRecord.event_type` values (human-readable, as stored).
const EVENT_TYPES = ['Intrusion', 'Intrusion End', 'Area Enter', 'Area Exit', 'Loitering', 'Loitering End', 'Crowding', 'Crowding End',
  'Occupancy', 'Crowd Estimation', 'Dwelling', 'Object Left', 'Object Left End', 'Object Removed', 'Object Removed End',
  'Fallen Person', 'Fallen Person End', 'Armed Person', 'Armed Person End', 'ALPR', 'Line Crossing', 'Line Counting', 'Tailgating'];
const PAGE = 50;
const COLUMNS = ['id', 'system_timestamp', 'event_type', 'instance_id', 'trigger_name', 'object_class', 'direction', 'count', 'event_duration_ms'];

function defaultFilters() {
  const now = new Date();
  return { start: dateToLocalInput(new Date(now.getTime() - 24 * 3600e3)), end: dateToLocalInput(new Date(now.getTime() + 60e3)), instance: '', type: '', cls: '', unit: 'hour' };
}

function query(f) {
  const q = {};
  const start = localInputToIso(f.start);
  const end = localInputToIso(f.end);
  if (start && end) q.timeRange = { startTime: start, endTime: end };
  const filters = {};
  if (f.instance) filters.instance_id = f.instance;
  if (f.type) filters.event_type = f.type;
  if (f.cls) filters.object_class = f.cls;
  if (Object.keys(filters).length) q.filters = filters;
  return q;
}

export function EventsScreen() {
  const instances = usePoll(() => api.get(paths.instances()), 0);
  const [form, setForm] = useState(defaultFilters);
  const [applied, setApplied] = useState(null);
  const [page, setPage] = useState(0);
  const [result, setResult] = useState(null);
  const [chart, setChart] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const load = useAction(async (f, p) => {
    const base = query(f);
    const [ev, an] = await Promise.all([
      api.post(paths.dbEvents(), { ...base, columns: COLUMNS, orderBy: 'system_timestamp desc', limit: PAGE + 1, offset: p * PAGE }),
      api.post(paths.dbAnalytics(), { ...base, metrics: { events: { function: 'count' } }, groupBy: ['object_class'], interval: { unit: f.unit, size: 1 } }),
    ]);
    setResult({ rows: ev.data.slice(0, PAGE), more: ev.data.length > PAGE });
    const pivot = pivotBuckets(an.data, 'events', 'object_class');
    setChart(base.timeRange ? fillBuckets(pivot, Date.parse(base.timeRange.startTime), Date.parse(base.timeRange.endTime), f.unit) : pivot);
  });
  const run = (f, p) => {
    setApplied(f);
    setPage(p);
    load.run(f, p);
  };
  useEffect(() => run(form, 0), []);
  const names = Object.fromEntries((instances.data?.instances ?? []).map((i) => [i.instanceId, i.displayName || i.instanceId]));
  const labelOf = (b) => {
    const d = new Date(b);
    if (Number.isNaN(d.getTime())) return String(b);
    const ts = formatTimestamp(d);
    return applied?.unit === 'day' ? ts.slice(0, 10) : ts.slice(5, 16);
  };
  return html`<section class="events-screen">
    <h1>Stored data</h1>
    <form class="card filters" onSubmit=${(e) => { e.preventDefault(); run(form, 0); }}>
      <div class="grid-form">
        <label>From <input type="datetime-local" value=${form.start} onInput=${set('start')} /></label>
        <label>To <input type="datetime-local" value=${form.end} onInput=${set('end')} /></label>
        <label>Instance
          <select value=${form.instance} onChange=${set('instance')}>
            <option value="">all</option>
            ${(instances.data?.instances ?? []).map((i) => html`<option value=${i.instanceId}>${i.displayName || i.instanceId}</option>`)}
          </select>
        </label>
        <label>Event type
          <select value=${form.type} onChange=${set('type')}><option value="">all</option>${EVENT_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select>
        </label>
        <label>Class
          <select value=${form.cls} onChange=${set('cls')}><option value="">all</option>${OBJECT_CLASSES.map((c) => html`<option value=${c}>${c}</option>`)}</select>
        </label>
        <label>Chart per
          <select value=${form.unit} onChange=${set('unit')}><option value="hour">hour</option><option value="day">day</option></select>
        </label>
      </div>
      <div class="row"><button type="submit" class="primary" disabled=${load.busy}>Query</button>
        <button type="button" onClick=${() => setForm(defaultFilters())}>Reset</button></div>
      <${ErrorNote} error=${load.error} />
    </form>
    ${chart && html`<section class="card" aria-labelledby="chart-title">
      <h2 id="chart-title">Events per ${applied?.unit} by class</h2>
      ${chart.max > 0 ? html`<${BarChart} pivot=${chart} labelOf=${labelOf} title="Event counts per time bucket and class" />` : html`<p class="muted" id="chart-empty">No events in this range.</p>`}
    </section>`}
    ${result && html`<section class="card" aria-labelledby="rows-title">
      <div class="row between"><h2 id="rows-title">Events</h2>
        <div class="row">
          <button type="button" disabled=${page === 0 || load.busy} onClick=${() => run(applied, page - 1)}>Previous</button>
          <span>Page ${page + 1}</span>
          <button type="button" disabled=${!result.more || load.busy} onClick=${() => run(applied, page + 1)}>Next</button>
        </div>
      </div>
      <div class="table-wrap"><table class="stored">
        <thead><tr><th>Time</th><th>Type</th><th>Instance</th><th>Area / line</th><th>Class</th><th>Direction</th><th>Count</th><th>Duration</th></tr></thead>
        <tbody>
          ${result.rows.map((r) => html`<tr key=${r.id}>
            <td>${formatTimestamp(r.system_timestamp)}</td><td>${r.event_type}</td>
            <td>${r.instance_id ? html`<a href=${hrefs.instance(r.instance_id)}>${names[r.instance_id] || String(r.instance_id).slice(0, 8)}</a>` : ''}</td>
            <td>${r.trigger_name ?? ''}</td><td>${r.object_class ?? ''}</td><td>${r.direction ?? ''}</td>
            <td class="num">${r.count ?? ''}</td><td class="num">${r.event_duration_ms !== undefined && r.event_duration_ms !== null ? formatDuration(r.event_duration_ms) : ''}</td>
          </tr>`)}
          ${result.rows.length === 0 && html`<tr><td colspan="8" class="muted">No stored events match.</td></tr>`}
        </tbody>
      </table></div>
    </section>`}
  </section>`;
}
