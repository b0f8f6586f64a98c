// Cameras (#/cameras): ONVIF discovery (`POST /v1/onvif/discover`), the
// known cameras with their state, a credentials form per camera, each
// camera's media profiles (`GET /v1/onvif/streams/{camera}`), and one-click
// "create an instance on this stream" (core create + RTSP input + start).

import { html, useState, usePoll, useAction, ErrorNote } from '../ui.js';
import { api, paths } from '../api.js';
import { hrefs } from '../router.js';

function Credentials({ cam, onSaved }) {
  const [user, setUser] = useState(cam.username || '');
  const [pass, setPass] = useState('');
  const save = useAction(async () => {
    await api.post(paths.onvifCredentials(cam.uuid), { username: user, password: pass });
    setPass('');
    onSaved();
  });
  return html`<form class="row wrap" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
    <label>User name <input value=${user} onInput=${(e) => setUser(e.target.value)} autocomplete="off" required /></label>
    <label>Password <input type="password" value=${pass} onInput=${(e) => setPass(e.target.value)} autocomplete="new-password"
      placeholder=${cam.hasCredentials ? 'stored' : ''} /></label>
    <button type="submit" disabled=${save.busy}>Save credentials</button>
    <${ErrorNote} error=${save.error} />
  </form>`;
}

function Streams({ cam }) {
  const [streams, setStreams] = useState(null);
  const [created, setCreated] = useState(null);
  const load = useAction(async () => setStreams(await api.get(paths.onvifStreams(cam.uuid))));
  const create = useAction(async (s) => {
    const name = `${cam.name || cam.address} · ${s.name || s.token}`;
    const { instanceId } = await api.post(paths.instanceCreate(), { name, statisticsMode: true });
    await api.post(paths.input(instanceId), { type: 'RTSP', uri: s.uri });
    await api.post(paths.renderPreset(instanceId), { presetName: 'Default' });
    await api.post(paths.action(instanceId, 'start'));
    setCreated({ id: instanceId, name });
  });
  return html`<div>
    <button type="button" disabled=${load.busy} onClick=${() => load.run()}>${streams ? 'Reload profiles' : 'Show profiles'}</button>
    <${ErrorNote} error=${load.error} />
    ${streams && html`<div class="table-wrap"><table>
      <thead><tr><th>Profile</th><th>Resolution</th><th>FPS</th><th>Codec</th><th>URI</th><th></th></tr></thead>
      <tbody>${streams.map((s) => html`<tr key=${s.token}>
        <td>${s.name || s.token}</td><td>${s.width}×${s.height}</td><td>${s.fps}</td><td>${s.codec}</td><td class="mono small">${s.uri}</td>
        <td><button type="button" class="primary" disabled=${create.busy} onClick=${() => create.run(s)}>Create instance</button></td>
      </tr>`)}
      ${streams.length === 0 && html`<tr><td colspan="6" class="muted">The camera lists no profiles.</td></tr>`}</tbody>
    </table></div>`}
    ${created && html`<p class="ok" role="status">Created <a href=${hrefs.instance(created.id)}>${created.name}</a>.</p>`}
    <${ErrorNote} error=${create.error} prefix="Create failed" />
  </div>`;
}

export function CamerasScreen() {
  const cams = usePoll(() => api.get(paths.onvifCameras()), 5000);
  const [timeout, setTimeout_] = useState('5');
  const discover = useAction(async () => {
    await api.post(paths.onvifDiscover(Number(timeout)));
    await cams.reload();
  });
  const list = cams.data ?? [];
  return html`<section>
    <h1>Cameras</h1>
    <form class="card row wrap" onSubmit=${(e) => { e.preventDefault(); discover.run(); }}>
      <label>Wait (seconds) <input type="number" min="1" max="30" value=${timeout} onInput=${(e) => setTimeout_(e.target.value)} /></label>
      <button type="submit" class="primary" disabled=${discover.busy}>${discover.busy ? 'Discovering…' : 'Discover ONVIF cameras'}</button>
      <${ErrorNote} error=${discover.error} />
    </form>
    <${ErrorNote} error=${cams.error} prefix="Cannot list cameras" />
    ${cams.data && list.length === 0 && html`<p class="muted">No cameras known yet: run a discovery on the server's network.</p>`}
    ${list.map((c) => html`<article class="card camera" key=${c.uuid}>
      <div class="row between wrap">
        <h2>${c.name || c.address}</h2>
        <span class=${`badge cam-${String(c.state).toLowerCase()}`}>${c.state}</span>
      </div>
      <p class="muted small">${[c.manufacturer, c.model, c.firmwareVersion && `firmware ${c.firmwareVersion}`].filter(Boolean).join(' · ')} — ${c.address} · <span class="mono">${c.uuid}</span></p>
      ${c.message && html`<p class="warn">${c.message}</p>`}
      <${Credentials} cam=${c} onSaved=${cams.reload} />
      <${Streams} cam=${c} />
    </article>`)}
  </section>`;
}
