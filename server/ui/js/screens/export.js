// Exporting (#/instance/<id>/export): the render preset of output video,
// the HLS output (its playlist URI), the RTSP re-stream and its URI, and the
// MQTT output handlers at config path `Output/handlers/<name>` (add, edit,
// remove). Handler passwords are write-only: the server returns "********",
// which is never shown; a password is sent only when one is typed (else the
// mask is written back, which the server reads as "unchanged").

import { html, useState, useEffect, useAction, ErrorNote } from '../ui.js';
import { api, paths } from '../api.js';
import { hrefs } from '../router.js';

const MASK = '********';
const SINKS = ['events', 'tracks', 'statistics', 'crops', 'attributes', 'all'];
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

const writeConfig = (id, path, value) => api.post(paths.config(id), { path, jsonValue: JSON.stringify(value) });

function emptyHandler() {
  return { name: '', uri: 'mqtt://127.0.0.1:1883', sink: 'events', enabled: true, clientId: '', topic: 'rt/{instanceId}/{eventType}', qos: '1', retain: false, username: '', password: '', hadPassword: false, queueSize: '', caFile: '', isNew: true };
}

function fromHandler(name, h) {
  const c = h.config || {};
  return {
    name,
    uri: h.uri ?? '',
    sink: h.sink ?? 'events',
    enabled: h.enabled ?? true,
    clientId: c.clientId ?? '',
    topic: c.topic ?? '',
    qos: String(c.qos ?? 1),
    retain: Boolean(c.retain),
    username: c.username ?? '',
    password: '',
    hadPassword: Boolean(c.password),
    queueSize: c.queueSize === undefined ? '' : String(c.queueSize),
    caFile: c.caFile ?? '',
    isNew: false,
    original: h,
  };
}

// The handler node to write. Keys of the stored handler the form does not
// know are kept.
function toHandler(f) {
  const orig = f.original || {};
  const config = { ...(orig.config || {}) };
  const setOpt = (k, v) => {
    if (v === '' || v === undefined) delete config[k];
    else config[k] = v;
  };
  setOpt('clientId', f.clientId);
  setOpt('topic', f.topic);
  config.qos = Number(f.qos);
  config.retain = f.retain;
  setOpt('username', f.username);
  if (f.password) config.password = f.password;
  else if (f.hadPassword && !f.clearPassword) config.password = MASK; // unchanged
  else delete config.password;
  setOpt('queueSize', f.queueSize === '' ? '' : Number(f.queueSize));
  setOpt('caFile', f.caFile);
  return { ...orig, uri: f.uri, sink: f.sink, enabled: f.enabled, config };
}

function HandlerForm({ id, initial, existing, onDone, locked }) {
  const [f, setF] = useState(initial);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const save = useAction(async () => {
    if (!NAME_RE.test(f.name)) throw new Error('Name: 1-64 letters, digits, "_", "-" or "."');
    if (f.isNew && existing.includes(f.name)) throw new Error(`A handler named ${f.name} exists`);
    await writeConfig(id, `Output/handlers/${f.name}`, toHandler(f));
    onDone(true);
  });
  return html`<form class="card" aria-labelledby="handler-title" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <h3 id="handler-title">${f.isNew ? 'New MQTT handler' : `Edit handler ${f.name}`}</h3>
    <div class="grid-form">
      <label>Name <input value=${f.name} disabled=${!f.isNew} onInput=${set('name')} required /></label>
      <label class="wide">Broker URI <input value=${f.uri} onInput=${set('uri')} required placeholder="mqtt://host:1883 or mqtts://host:8883" /></label>
      <label>Sink <select value=${f.sink} onChange=${set('sink')}>${SINKS.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
      <label class="check"><input type="checkbox" checked=${f.enabled} onChange=${set('enabled')} /> Enabled</label>
      <label class="wide">Topic <input value=${f.topic} onInput=${set('topic')} placeholder="rt/{instanceId}/{eventType}" /></label>
      <label>Client id <input value=${f.clientId} onInput=${set('clientId')} /></label>
      <label>QoS <select value=${f.qos} onChange=${set('qos')}>${['0', '1', '2'].map((q) => html`<option value=${q}>${q}</option>`)}</select></label>
      <label class="check"><input type="checkbox" checked=${f.retain} onChange=${set('retain')} /> Retain</label>
      <label>User name <input value=${f.username} onInput=${set('username')} autocomplete="off" /></label>
      <label>Password <input type="password" value=${f.password} onInput=${set('password')} autocomplete="new-password"
        placeholder=${f.hadPassword ? 'stored (unchanged unless typed)' : 'none'} /></label>
      ${f.hadPassword && html`<label class="check"><input type="checkbox" checked=${Boolean(f.clearPassword)} onChange=${set('clearPassword')} /> Remove the stored password</label>`}
      <label>Queue size <input type="number" min="0" value=${f.queueSize} onInput=${set('queueSize')} placeholder="1000" /></label>
      <label class="wide">CA file (server path, mqtts) <input value=${f.caFile} onInput=${set('caFile')} /></label>
    </div>
    <div class="row">
      <button type="submit" class="primary" disabled=${save.busy || locked}>Save handler</button>
      <button type="button" onClick=${() => onDone(false)}>Cancel</button>
    </div>
    <${ErrorNote} error=${save.error} prefix="Not saved" />
  </form>`;
}

export function ExportScreen({ id }) {
  const [inst, setInst] = useState(null);
  const [config, setConfig] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [hlsUri, setHlsUri] = useState('');
  const [rtspUri, setRtspUri] = useState('');
  const [editing, setEditing] = useState(null);
  const reload = async () => {
    try {
      const [i, c] = await Promise.all([api.get(paths.instance(id)), api.get(paths.config(id))]);
      setInst(i);
      setConfig(c);
      setRtspUri((u) => u || c.Output?.rtsp?.uri || '');
      setLoadError(null);
    } catch (e) {
      setLoadError(e);
    }
  };
  useEffect(() => {
    reload();
  }, [id]);
  const out = config?.Output ?? {};
  const locked = inst && (inst.readOnly || inst.systemInstance);
  const preset = useAction(async (name) => {
    await api.post(paths.renderPreset(id), { presetName: name });
    await reload();
  });
  const [hlsWant, setHlsWant] = useState(null); // the toggle's state until the server confirms
  const hls = useAction(async (enabled) => {
    setHlsWant(enabled);
    try {
      const r = await api.post(paths.hls(id), { enabled });
      setHlsUri(enabled ? r?.uri ?? '' : '');
      await reload();
    } finally {
      setHlsWant(null);
    }
  });
  const rtsp = useAction(async (enabled) => {
    const body = { enabled };
    if (rtspUri) body.uri = rtspUri;
    await api.post(paths.rtsp(id), body);
    await reload();
  });
  const handlers = out.handlers && typeof out.handlers === 'object' ? out.handlers : {};
  const removeHandler = useAction(async (name) => {
    // No delete operation for a config node: rewrite the handlers without it.
    // Other handlers' passwords come back masked and the mask keeps them.
    const rest = { ...handlers };
    delete rest[name];
    await writeConfig(id, 'Output/handlers', rest);
    await reload();
  });
  const hlsOn = Boolean(out.hls?.enabled);
  const rtspOn = Boolean(out.rtsp?.enabled);
  const shownHls = hlsUri || (hlsOn ? `${location.origin}/hls/${id}.m3u8` : '');
  return html`<section class="export">
    <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">Instances</a> › <a href=${hrefs.instance(id)}>${inst?.displayName || id}</a> › <span>Exporting</span></nav>
    <h1>Exporting ${locked && html`<span class="badge locked">🔒 read-only</span>`}</h1>
    <${ErrorNote} error=${loadError} />
    ${config && html`
    <div class="cards">
      <section class="card" aria-labelledby="preset-title">
        <h2 id="preset-title">Overlay</h2>
        <label>Render preset
          <select value=${out.render_preset ?? ''} disabled=${locked || preset.busy} onChange=${(e) => preset.run(e.target.value)}>
            <option value="Default">Default (boxes, ids, areas, lines, counters)</option>
            <option value="">Clean video</option>
          </select>
        </label>
        <${ErrorNote} error=${preset.error} />
      </section>
      <section class="card" aria-labelledby="hls-title">
        <h2 id="hls-title">HLS</h2>
        <label class="check"><input type="checkbox" checked=${hlsWant ?? hlsOn} disabled=${locked || hls.busy} onChange=${(e) => hls.run(e.target.checked)} /> HLS output enabled</label>
        ${shownHls && html`<p>Playlist: <a href=${shownHls} class="mono">${shownHls}</a> <span class="muted small">(fills while the instance runs)</span></p>`}
        <${ErrorNote} error=${hls.error} />
      </section>
      <section class="card" aria-labelledby="rtsp-title">
        <h2 id="rtsp-title">RTSP</h2>
        <label>Stream URI <input class="mono" value=${rtspUri} onInput=${(e) => setRtspUri(e.target.value)} placeholder="rtsp://127.0.0.1:8554/stream1" /></label>
        <p class="muted small">A URI on this host is served by the server; another host is published to.</p>
        <div class="row">
          <span class=${`badge ${rtspOn ? 'state-running' : ''}`}>${rtspOn ? 'enabled' : 'disabled'}</span>
          <button type="button" class="primary" disabled=${locked || rtsp.busy} onClick=${() => rtsp.run(true)}>${rtspOn ? 'Apply URI' : 'Enable'}</button>
          <button type="button" disabled=${locked || rtsp.busy || !rtspOn} onClick=${() => rtsp.run(false)}>Disable</button>
        </div>
        <${ErrorNote} error=${rtsp.error} />
      </section>
    </div>
    <section class="card" aria-labelledby="mqtt-title">
      <div class="row between"><h2 id="mqtt-title">MQTT handlers</h2>
        <button type="button" class="primary" disabled=${locked || Boolean(editing)} onClick=${() => setEditing(emptyHandler())}>Add handler</button></div>
      <${ErrorNote} error=${removeHandler.error} />
      <div class="table-wrap"><table>
        <thead><tr><th>Name</th><th>Broker</th><th>Sink</th><th>Topic</th><th>Enabled</th><th>Password</th><th></th></tr></thead>
        <tbody>
          ${Object.entries(handlers).map(([name, h]) => html`<tr key=${name}>
            <td>${name}</td><td class="mono small">${h.uri}</td><td>${h.sink ?? 'events'}</td><td class="mono small">${h.config?.topic ?? ''}</td>
            <td>${h.enabled === false ? 'no' : 'yes'}</td><td>${h.config?.password ? 'stored' : '—'}</td>
            <td class="actions"><button type="button" disabled=${locked || Boolean(editing)} onClick=${() => setEditing(fromHandler(name, h))}>Edit</button>
              <button type="button" class="danger" disabled=${locked || removeHandler.busy} onClick=${() => removeHandler.run(name)} aria-label=${`Remove handler ${name}`}>Remove</button></td>
          </tr>`)}
          ${Object.keys(handlers).length === 0 && html`<tr><td colspan="7" class="muted">No handlers.</td></tr>`}
        </tbody>
      </table></div>
      ${editing && html`<${HandlerForm} key=${editing.name || 'new'} id=${id} initial=${editing} existing=${Object.keys(handlers)} locked=${locked}
        onDone=${(saved) => { setEditing(null); if (saved) reload(); }} />`}
    </section>`}
  </section>`;
}
