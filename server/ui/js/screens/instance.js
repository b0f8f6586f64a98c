// Instance view (#/instance/<id>): the live video (server-drawn overlay)
// beside the live event feed over SSE (filter by type, pause/resume, last 200
// records, and the last 200 analytics events apart; a click on an analytics event or a crop shows its image), live
// charts of fps, latency and dropped frames from `statistics` events, the
// instance's last error, its event options (debug, statistics), and, for a
// `Manual` input, image files pushed from this computer as its frames.

import { html, useState, useEffect, useRef, usePoll, useAction, ErrorNote, StateBadge, Sparkline } from '../ui.js';
import { api, paths, pushImage } from '../api.js';
import { openEventStream } from '../stream.js';
import { hrefs } from '../router.js';
import { formatClock, formatRate, formatDuration, formatTimestamp, formatCount } from '../format.js';
import { saveUiState } from '../registry.js';
import { LiveView } from '../live.js';

const MAX_FEED = 200;
const MAX_POINTS = 60;
const MAX_CROPS = 100;
// Filter choices offered before any record of them arrived.
const BASE_TYPES = ['track', 'crop', 'attribute', 'statistics'];

function summary(type, p) {
  if (!p) return '';
  if (type === 'statistics') return `${formatRate(p.current_framerate)}, latency ${formatRate(p.latency, 'ms')}, dropped ${p.dropped_frames_count}`;
  if (type === 'lagged') return `missed ${p.missed} records`;
  if (type === 'crop') return `track #${String(p.ref_tracking_id || '').slice(0, 8)}${p.ref_event_id ? ' (event)' : ''}`;
  if (type === 'attribute') return `${p.name} = ${p.value}`;
  const parts = [];
  if (p.object_class) parts.push(p.object_class);
  if (p.tracking_id) parts.push(`#${String(p.tracking_id).slice(0, 8)}`);
  if (p.area_name !== undefined || p.area_id) parts.push(`area ${p.area_name || p.area_id}`);
  if (p.line_name !== undefined || p.line_id) parts.push(`line ${p.line_name || p.line_id}`);
  if (p.direction) parts.push(p.direction);
  if (p.count !== undefined) parts.push(`count ${p.count}`);
  if (p.event_duration_ms !== undefined) parts.push(formatDuration(p.event_duration_ms));
  return parts.join(' · ');
}

// The feed's state: records, crops by event and track, statistics series.
function useEventFeed(id) {
  const [feed, setFeed] = useState({ items: [], analytics: [], stats: { fps: [], latency: [], dropped: [] }, status: 'connecting', detail: '' });
  const paused = useRef(false);
  const held = useRef(0);
  const crops = useRef(new Map());
  const seq = useRef(0);
  const [heldCount, setHeld] = useState(0);
  useEffect(() => {
    crops.current = new Map();
    let queue = [];
    let statsQ = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const add = queue;
      const st = statsQ;
      queue = [];
      statsQ = [];
      setFeed((f) => {
        const stats = { ...f.stats };
        for (const p of st) {
          const push = (k, v) => (stats[k] = [...stats[k], Number(v)].slice(-MAX_POINTS));
          push('fps', p.current_framerate);
          push('latency', p.latency);
          push('dropped', p.dropped_frames_count);
        }
        // Two rings: everything, and analytics events alone, so that a flood
        // of track updates does not push the rare analytics events out.
        const newest = add.reverse();
        const analytics = newest.filter((i) => i.type.startsWith('event-'));
        return {
          ...f,
          items: newest.length ? [...newest, ...f.items].slice(0, MAX_FEED) : f.items,
          analytics: analytics.length ? [...analytics, ...f.analytics].slice(0, MAX_FEED) : f.analytics,
          stats,
        };
      });
    };
    const stream = openEventStream(paths.events(id), {
      onRecord: (rec) => {
        let payload = null;
        try {
          payload = JSON.parse(rec.data);
        } catch {
          payload = null;
        }
        if (rec.event === 'crop' && payload?.image) {
          const m = crops.current;
          if (payload.ref_event_id) m.set(`e:${payload.ref_event_id}`, payload.image);
          if (payload.ref_tracking_id) m.set(`t:${payload.ref_tracking_id}`, payload.image);
          while (m.size > MAX_CROPS * 2) m.delete(m.keys().next().value);
        }
        if (rec.event === 'statistics' && payload) statsQ.push(payload);
        if (paused.current) {
          held.current++;
        } else {
          queue.push({ key: ++seq.current, id: rec.id, type: rec.event, payload });
        }
        if (!frame) frame = requestAnimationFrame(flush);
      },
      onState: (status, detail = '') => setFeed((f) => ({ ...f, status, detail })),
    });
    const heldTimer = setInterval(() => setHeld(held.current), 500);
    return () => {
      stream.close();
      cancelAnimationFrame(frame);
      clearInterval(heldTimer);
    };
  }, [id]);
  const setPaused = (v) => {
    paused.current = v;
    if (!v) {
      held.current = 0;
      setHeld(0);
    }
  };
  return { feed, crops, setPaused, heldCount };
}

function imageFor(item, crops) {
  const p = item.payload || {};
  if (item.type === 'crop') return p.image;
  return crops.current.get(`e:${p.event_id}`) || crops.current.get(`t:${p.tracking_id}`) || null;
}

function EventFeed({ id }) {
  const { feed, crops, setPaused, heldCount } = useEventFeed(id);
  const [filter, setFilter] = useState('all');
  const [paused, setP] = useState(false);
  const [selected, setSelected] = useState(null);
  const types = [...new Set([...feed.items, ...feed.analytics].map((i) => i.type))].sort();
  const source = filter === 'analytics' || filter.startsWith('event-') ? feed.analytics : feed.items;
  const shown = source.filter((i) => filter === 'all' || filter === 'analytics' || i.type === filter);
  const toggle = () => {
    setPaused(!paused);
    setP(!paused);
  };
  const img = selected ? imageFor(selected, crops) : null;
  return html`<section class="feed card" aria-labelledby="feed-title">
    <div class="row between">
      <h2 id="feed-title">Live events</h2>
      <span class=${`badge stream-${feed.status}`} title=${feed.detail}>${feed.status}${feed.detail ? `: ${feed.detail}` : ''}</span>
    </div>
    <div class="row">
      <label>Type
        <select value=${filter} onChange=${(e) => setFilter(e.target.value)}>
          <option value="all">all</option>
          <option value="analytics">analytics (event-*)</option>
          ${[...new Set([...BASE_TYPES, ...types])].map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </label>
      <button type="button" onClick=${toggle} aria-pressed=${paused}>${paused ? `Resume${heldCount ? ` (${heldCount} new)` : ''}` : 'Pause'}</button>
    </div>
    ${selected && html`<div class="event-detail">
      <div class="row between"><strong>${selected.type}</strong><button type="button" onClick=${() => setSelected(null)}>Close</button></div>
      ${img ? html`<img class="crop" alt=${`Image of ${selected.type}`} src=${`data:image/jpeg;base64,${img}`} />` : html`<p class="muted">No crop or snapshot received for this event.</p>`}
      <pre class="json">${JSON.stringify({ ...selected.payload, image: selected.payload?.image ? '(base64 JPEG)' : undefined }, null, 1)}</pre>
    </div>`}
    <ol class="events" aria-live="off">
      ${shown.map((i) => {
        const clickable = i.type.startsWith('event-') || i.type === 'crop';
        const t = i.payload?.system_timestamp;
        const body = html`<span class="t">${t ? formatClock(t) : ''}</span> <span class="type">${i.type}</span> <span class="sum">${summary(i.type, i.payload)}</span>`;
        return html`<li key=${i.key} data-type=${i.type}>${clickable ? html`<button type="button" class="linklike" onClick=${() => setSelected(i)}>${body}</button>` : body}</li>`;
      })}
      ${shown.length === 0 && html`<li class="muted">No events yet. Tracks are sent only when they take part in an analytics event, unless debug mode is on.</li>`}
    </ol>
    <div class="stats">
      <${Sparkline} label="Processing" values=${feed.stats.fps} format=${(v) => formatRate(v)} />
      <${Sparkline} label="Latency" values=${feed.stats.latency} format=${(v) => formatRate(v, 'ms')} />
      <${Sparkline} label="Dropped frames" values=${feed.stats.dropped} format=${(v) => formatCount(v)} />
    </div>
  </section>`;
}

function Options({ inst, onChanged }) {
  const locked = inst.readOnly || inst.systemInstance;
  const act = useAction(async (patch) => {
    await api.patch(paths.instance(inst.instanceId), patch);
    onChanged();
  });
  const box = (key, label) => html`<label><input type="checkbox" checked=${inst[key]} disabled=${locked || act.busy}
    onChange=${(e) => act.run({ [key]: e.target.checked })} /> ${label}</label>`;
  return html`<fieldset class="checks inline">
    <legend>Events</legend>
    ${box('debugMode', 'Debug mode (every track and crop)')}
    ${box('statisticsMode', 'Statistics events')}
    <${ErrorNote} error=${act.error} />
  </fieldset>`;
}

// Image files pushed to a `Manual` instance, in the order chosen. While its
// queue is full (409, the model has not caught up) a file waits and is
// pushed again, as a script would; any other refusal stops there, with the
// server's reason.
function PushImages({ id, running }) {
  const [done, setDone] = useState(null);
  const act = useAction(async (files) => {
    setDone(null);
    let n = 0;
    for (const f of files) {
      for (let tries = 0; ; tries++) {
        try {
          await pushImage(id, f);
          break;
        } catch (e) {
          if (e.status === 409 && /queue is full/.test(e.message) && tries < 100) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          throw new Error(`${f.name}: ${e.message}`);
        }
      }
      n += 1;
      setDone(`${n} of ${files.length} pushed`);
    }
  });
  const chosen = (e) => {
    const files = [...e.target.files];
    e.target.value = '';
    if (files.length) act.run(files);
  };
  return html`<section class="card" aria-labelledby="push-title">
    <h2 id="push-title">Push images</h2>
    <p class="muted small">JPEG, PNG or BMP files from this computer, in order, as this Manual input's frames${running ? '' : ' (start the instance first)'}.</p>
    <label>Images <input type="file" multiple accept=".jpg,.jpeg,.png,.bmp,image/jpeg,image/png,image/bmp"
      disabled=${!running || act.busy} onChange=${chosen} /></label>
    ${done && html`<p role="status">${done}</p>`}
    <${ErrorNote} error=${act.error} />
  </section>`;
}

export function InstanceScreen({ id }) {
  const inst = usePoll(() => api.get(paths.instance(id)), 2000, [id]);
  const err = usePoll(() => api.get(paths.error(id)), 5000, [id]);
  const cfg = usePoll(() => api.get(paths.config(id)), 10000, [id]);
  const act = useAction(async (a) => {
    await api.post(paths.action(id, a));
    inst.reload();
  });
  useEffect(() => saveUiState({ lastInstance: id }), [id]);
  const i = inst.data;
  const last = err.data?.error;
  return html`<section class="instance-view">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">Instances</a> › <span>${i?.displayName || id}</span></nav>
    <div class="row between wrap">
      <h1>${i?.displayName || 'Instance'} ${i && html`<${StateBadge} inst=${i} />`} ${(i?.readOnly || i?.systemInstance) && html`<span class="badge locked">🔒 read-only</span>`}</h1>
      <div class="row">
        ${i && (i.running
          ? html`<button type="button" disabled=${act.busy || i.readOnly} onClick=${() => act.run('stop')}>Stop</button>`
          : html`<button type="button" class="primary" disabled=${act.busy} onClick=${() => act.run('start')}>Start</button>`)}
        <a class="button" href=${hrefs.zones(id)}>Zones and lines</a>
        <a class="button" href=${hrefs.export(id)}>Exporting</a>
      </div>
    </div>
    <${ErrorNote} error=${inst.error} />
    <${ErrorNote} error=${act.error} />
    <div class="split">
      <div class="video-col">
        ${i && html`<${LiveView} id=${id} running=${i.running} />`}
        <p class="muted small">${i ? html`${formatRate(i.fps)} measured · ${i.solutionName}` : ''}</p>
        ${i && html`<${Options} inst=${i} onChanged=${inst.reload} />`}
        ${i && cfg.data?.Input?.type === 'Manual' && html`<${PushImages} id=${id} running=${i.running} />`}
        <section class="card" aria-labelledby="err-title">
          <h2 id="err-title">Last error</h2>
          ${last ? html`<p class="error-record"><span class="badge">${last.source}</span> ${last.message} <span class="muted small">${formatTimestamp(last.time)}</span></p>` : html`<p class="muted">None since the instance was created.</p>`}
          <${ErrorNote} error=${err.error} />
        </section>
      </div>
      <${EventFeed} id=${id} />
    </div>
  </section>`;
}
