// System (#/system): engine and server version, system information, the
// last server error (`/v1/core/error`), the log tail (`/v1/core/log`), and
// the server settings (`/v1/core/system/config`: view and edit).

import { html, useState, useEffect, usePoll, useAction, ErrorNote } from '../ui.js';
import { api, paths } from '../api.js';
import { formatTimestamp } from '../format.js';

function SettingInput({ e, value, onChange }) {
  if (e.type === 'bool') return html`<input type="checkbox" checked=${value === 'true'} onChange=${(ev) => onChange(ev.target.checked ? 'true' : 'false')} />`;
  if (e.type === 'enum' && e.availableValues.length)
    return html`<select value=${value} onChange=${(ev) => onChange(ev.target.value)}>${e.availableValues.map((v) => html`<option value=${v.value}>${v.displayName}</option>`)}</select>`;
  return html`<input type=${e.type === 'int' ? 'number' : 'text'} value=${value} onInput=${(ev) => onChange(ev.target.value)} />`;
}

function Settings() {
  const cfg = usePoll(() => api.get(paths.systemConfig()), 0);
  const [edits, setEdits] = useState({});
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    const systemConfig = Object.entries(edits).map(([fieldId, value]) => ({ fieldId, value }));
    await api.put(paths.systemConfig(), { systemConfig });
    setEdits({});
    setSaved(true);
    await cfg.reload();
  });
  const entities = cfg.data?.systemConfig ?? [];
  const groups = [...new Set(entities.map((e) => e.group))];
  return html`<form class="card" aria-labelledby="settings-title" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <h2 id="settings-title">Settings</h2>
    <p class="muted small">Saved to rtconfig.json. Web server settings apply at the next start.</p>
    <${ErrorNote} error=${cfg.error} />
    ${groups.map((g) => html`<fieldset><legend>${g}</legend><div class="grid-form">
      ${entities.filter((e) => e.group === g).map((e) => html`<label class=${e.type === 'bool' ? 'check' : ''}>
        ${e.type !== 'bool' && e.displayName}
        <${SettingInput} e=${e} value=${edits[e.fieldId] ?? e.value} onChange=${(v) => { setSaved(false); setEdits({ ...edits, [e.fieldId]: v }); }} />
        ${e.type === 'bool' && e.displayName} <span class="muted small mono">${e.fieldId}</span>
      </label>`)}
    </div></fieldset>`)}
    <div class="row">
      <button type="submit" class="primary" disabled=${save.busy || Object.keys(edits).length === 0}>Save ${Object.keys(edits).length || ''} change${Object.keys(edits).length === 1 ? '' : 's'}</button>
      <button type="button" disabled=${Object.keys(edits).length === 0} onClick=${() => setEdits({})}>Discard</button>
      ${saved && html`<span class="ok" role="status">Saved.</span>`}
    </div>
    <${ErrorNote} error=${save.error} prefix="Not saved" />
  </form>`;
}

export function SystemScreen() {
  const version = usePoll(() => api.get(paths.version()), 0);
  const info = usePoll(() => api.get(paths.systemInfo()), 0);
  const err = usePoll(() => api.get(paths.lastError()), 5000);
  const [lines, setLines] = useState('200');
  const log = usePoll(() => api.get(paths.log(Number(lines) || 0)), 5000, [lines]);
  useEffect(() => {
    const el = document.getElementById('log-tail');
    if (el) el.scrollTop = el.scrollHeight;
  }, [log.data]);
  const last = err.data?.error;
  return html`<section class="system">
    <h1>System</h1>
    <div class="cards">
      <section class="card" aria-labelledby="version-title">
        <h2 id="version-title">Version</h2>
        <${ErrorNote} error=${version.error} />
        ${version.data && html`<dl class="kv"><dt>RT API (engine)</dt><dd id="engine-version">${version.data.engine}</dd>
          <dt>Server</dt><dd>${version.data.serverVersion ?? '—'}</dd></dl>`}
        <p><a href="/docs">Interactive API docs</a> · <a href="/openapi.yaml">openapi.yaml</a></p>
      </section>
      <section class="card" aria-labelledby="err-title">
        <h2 id="err-title">Last server error</h2>
        <${ErrorNote} error=${err.error} />
        ${last ? html`<p><span class="badge">${last.source}</span> ${last.message} <span class="muted small">${formatTimestamp(last.time)}</span></p>` : html`<p class="muted">None since the server started.</p>`}
      </section>
    </div>
    <section class="card" aria-labelledby="info-title">
      <h2 id="info-title">System information</h2>
      <${ErrorNote} error=${info.error} />
      <dl class="kv">${(info.data?.systemInfo ?? []).map((e) => html`<dt>${e.displayName}</dt><dd>${e.value}</dd>`)}</dl>
    </section>
    <section class="card" aria-labelledby="log-title">
      <div class="row between"><h2 id="log-title">Log</h2>
        <label>Lines <select value=${lines} onChange=${(e) => setLines(e.target.value)}>${['50', '200', '1000', '0'].map((n) => html`<option value=${n}>${n === '0' ? 'all retained' : n}</option>`)}</select></label></div>
      <${ErrorNote} error=${log.error} />
      <pre id="log-tail" class="log" tabindex="0">${log.data?.log ?? ''}</pre>
    </section>
    <${Settings} />
  </section>`;
}
