// Instances screen (#/): every instance with its solution, state, measured
// fps, input and last error, refreshed every 2 s; start / stop / restart /
// delete (with confirmation); read-only instances locked; the create form
// (name, solution, input type and URI, overlay and event options).

import { html, useState, usePoll, useAction, ErrorNote, ConfirmDialog, StateBadge } from '../ui.js';
import { api, paths } from '../api.js';
import { hrefs } from '../router.js';
import { formatRate, formatTimestamp } from '../format.js';

const INPUT_TYPES = ['File', 'RTSP', 'HTTP', 'Manual'];
const URI_HINT = {
  File: '/path/to/video.mp4 or file:///path',
  RTSP: 'rtsp://camera.local:554/stream1',
  HTTP: 'https://host/video.mp4',
  Manual: 'frames are pushed through the API',
};

// The list plus, per instance, its input (config tree) and last error.
async function loadInstances() {
  const { instances } = await api.get(paths.instances());
  const extra = await Promise.all(
    instances.map(async (i) => {
      const [config, err] = await Promise.all([
        api.get(paths.config(i.instanceId)).catch(() => null),
        api.get(paths.error(i.instanceId)).catch(() => null),
      ]);
      return { input: config?.Input ?? null, error: err?.error ?? null };
    }),
  );
  return instances.map((inst, k) => ({ inst, ...extra[k] }));
}

function InstanceRow({ row, onChanged, onDelete }) {
  const { inst, input, error } = row;
  const id = inst.instanceId;
  const locked = inst.readOnly || inst.systemInstance;
  const act = useAction(async (a) => {
    await api.post(paths.action(id, a));
    onChanged();
  });
  const name = inst.displayName || '(unnamed)';
  return html`<tr data-instance=${id} class=${locked ? 'locked' : ''}>
    <td>
      <a href=${hrefs.instance(id)}>${name}</a>
      ${locked && html` <span class="badge locked" title="Read-only: cannot be changed or deleted through the API">🔒 read-only</span>`}
      <div class="muted mono small">${id}</div>
    </td>
    <td>${inst.solutionName || inst.solutionId}</td>
    <td><${StateBadge} inst=${inst} /></td>
    <td class="num">${inst.running ? formatRate(inst.fps) : '—'}</td>
    <td class="input">${input ? html`<span class="badge">${input.type}</span> <span class="mono small">${input.uri || ''}</span>` : '—'}</td>
    <td class="err">${error ? html`<span title=${formatTimestamp(error.time)}>${error.source}: ${error.message}</span>` : ''}
      <${ErrorNote} error=${act.error} /></td>
    <td class="actions">
      ${inst.running
        ? html`<button type="button" disabled=${act.busy || locked} onClick=${() => act.run('stop')} aria-label=${`Stop ${name}`}>Stop</button>
            <button type="button" disabled=${act.busy || locked} onClick=${() => act.run('restart')} aria-label=${`Restart ${name}`}>Restart</button>`
        : html`<button type="button" class="primary" disabled=${act.busy} onClick=${() => act.run('start')} aria-label=${`Start ${name}`}>Start</button>`}
      <a class="button" href=${hrefs.zones(id)}>Zones</a>
      <a class="button" href=${hrefs.export(id)}>Export</a>
      <button type="button" class="danger" disabled=${locked} title=${locked ? 'Read-only instance' : ''} onClick=${() => onDelete(inst)} aria-label=${`Delete ${name}`}>Delete</button>
    </td>
  </tr>`;
}

function CreateForm({ onCreated }) {
  const sol = usePoll(() => api.get(paths.solutions()), 0);
  const [f, setF] = useState({
    name: '',
    solution: '',
    inputType: 'File',
    uri: '',
    overlay: true,
    statisticsMode: true,
    debugMode: false,
    persistent: false,
    start: true,
  });
  const [created, setCreated] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const solutions = sol.data?.solutions ?? [];
  const act = useAction(async () => {
    const body = {
      name: f.name,
      solution: f.solution || solutions[0]?.id,
      persistent: f.persistent,
      statisticsMode: f.statisticsMode,
      debugMode: f.debugMode,
    };
    const { instanceId } = await api.post(paths.instanceCreate(), body);
    setCreated({ id: instanceId, name: f.name, step: 'input' });
    const input = { type: f.inputType };
    if (f.inputType !== 'Manual') input.uri = f.uri;
    await api.post(paths.input(instanceId), input);
    if (f.overlay) await api.post(paths.renderPreset(instanceId), { presetName: 'Default' });
    if (f.start) await api.post(paths.action(instanceId, 'start'));
    setCreated({ id: instanceId, name: f.name, step: 'done' });
    setF({ ...f, name: '', uri: '' });
    onCreated();
  });
  return html`<form class="card create" onSubmit=${(e) => {
    e.preventDefault();
    act.run();
  }}>
    <h2>Create an instance</h2>
    <div class="grid-form">
      <label>Name <input name="name" required value=${f.name} onInput=${set('name')} /></label>
      <label>Solution
        <select name="solution" value=${f.solution || solutions[0]?.id || ''} onChange=${set('solution')}>
          ${solutions.map((s) => html`<option value=${s.id}>${s.name} (${s.id})</option>`)}
        </select>
      </label>
      <label>Input type
        <select name="inputType" value=${f.inputType} onChange=${set('inputType')}>
          ${INPUT_TYPES.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </label>
      <label class="wide">Input URI
        <input name="uri" value=${f.uri} onInput=${set('uri')} disabled=${f.inputType === 'Manual'}
          required=${f.inputType !== 'Manual'} placeholder=${URI_HINT[f.inputType]} />
      </label>
    </div>
    <fieldset class="checks">
      <legend>Options</legend>
      <label><input type="checkbox" checked=${f.overlay} onChange=${set('overlay')} /> Draw the overlay on video (render preset Default)</label>
      <label><input type="checkbox" checked=${f.statisticsMode} onChange=${set('statisticsMode')} /> Statistics events</label>
      <label><input type="checkbox" checked=${f.debugMode} onChange=${set('debugMode')} /> Debug mode (send every track and crop)</label>
      <label><input type="checkbox" checked=${f.persistent} onChange=${set('persistent')} /> Persistent (kept across server restarts)</label>
      <label><input type="checkbox" checked=${f.start} onChange=${set('start')} /> Start now</label>
    </fieldset>
    <div class="row">
      <button type="submit" class="primary" disabled=${act.busy}>${act.busy ? 'Creating…' : 'Create'}</button>
      ${created && created.step === 'done' && html`<span class="ok" role="status">Created <a href=${hrefs.instance(created.id)}>${created.name || created.id}</a>.</span>`}
    </div>
    <${ErrorNote} error=${act.error} prefix=${created && created.step !== 'done' ? 'Instance created, but setting it up failed' : ''} />
    <${ErrorNote} error=${sol.error} prefix="Solutions" />
  </form>`;
}

export function InstancesScreen() {
  const list = usePoll(loadInstances, 2000);
  const [toDelete, setToDelete] = useState(null);
  const del = useAction(async (inst) => {
    await api.del(paths.instance(inst.instanceId));
    list.reload();
  });
  const rows = list.data ?? [];
  return html`<section>
    <h1>Instances</h1>
    <${ErrorNote} error=${list.error} prefix="Cannot list instances" />
    <${ErrorNote} error=${del.error} prefix="Delete failed" />
    <div class="table-wrap">
      <table class="instances">
        <thead><tr><th>Name</th><th>Solution</th><th>State</th><th>FPS</th><th>Input</th><th>Last error</th><th>Actions</th></tr></thead>
        <tbody>
          ${rows.map((row) => html`<${InstanceRow} key=${row.inst.instanceId} row=${row} onChanged=${list.reload} onDelete=${setToDelete} />`)}
          ${list.data && rows.length === 0 && html`<tr><td colspan="7" class="muted">No instances yet: create one below.</td></tr>`}
        </tbody>
      </table>
    </div>
    <${CreateForm} onCreated=${list.reload} />
    <${ConfirmDialog} open=${Boolean(toDelete)} title="Delete instance?"
      message=${toDelete ? `Delete “${toDelete.displayName || toDelete.instanceId}”? It is stopped and removed with its areas, lines and settings.` : ''}
      onClose=${() => setToDelete(null)}
      onConfirm=${() => {
        const inst = toDelete;
        setToDelete(null);
        del.run(inst);
      }} />
  </section>`;
}
