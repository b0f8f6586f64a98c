// The panel's shell: header navigation, hash routing to the screens, the
// token dialog wired to api.js, and the UI state loaded from the registry.

import { html, render, useState, useEffect, TokenDialog } from './ui.js';
import { setTokenPrompt } from './api.js';
import { parseRoute, hrefs } from './router.js';
import { loadUiState, uiState } from './registry.js';
import { InstancesScreen } from './screens/instances.js';
import { InstanceScreen } from './screens/instance.js';
import { ZonesScreen } from './screens/zones.js';
import { ExportScreen } from './screens/export.js';
import { EventsScreen } from './screens/events.js';
import { CamerasScreen } from './screens/cameras.js';
import { SystemScreen } from './screens/system.js';

const NAV = [
  ['instances', 'Instances', hrefs.instances()],
  ['events', 'Stored data', hrefs.events()],
  ['cameras', 'Cameras', hrefs.cameras()],
  ['system', 'System', hrefs.system()],
];

function Screen({ route }) {
  const { screen, params } = route;
  switch (screen) {
    case 'instances':
      return html`<${InstancesScreen} />`;
    case 'instance':
      return html`<${InstanceScreen} id=${params.id} />`;
    case 'zones':
      return html`<${ZonesScreen} id=${params.id} />`;
    case 'export':
      return html`<${ExportScreen} id=${params.id} />`;
    case 'events':
      return html`<${EventsScreen} />`;
    case 'cameras':
      return html`<${CamerasScreen} />`;
    case 'system':
      return html`<${SystemScreen} />`;
    default:
      return html`<section><h1>Not found</h1><p>No screen at <code>${params.path}</code>. <a href="#/">Back to instances</a>.</p></section>`;
  }
}

function App() {
  const [route, setRoute] = useState(parseRoute(location.hash));
  const [tokenRequest, setTokenRequest] = useState(null);
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    setTokenPrompt((reason) => new Promise((resolve) => setTokenRequest({ reason, resolve })));
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.querySelector('main')?.focus({ preventScroll: true });
  }, [route.screen, route.params.id]);
  const section = ['instance', 'zones', 'export'].includes(route.screen) ? 'instances' : route.screen;
  const last = uiState().lastInstance;
  return html`
    <a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.querySelector('main').focus();
    }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">RT Server</a>
      <nav aria-label="Screens">
        ${NAV.map(([key, label, href]) => html`<a href=${href} aria-current=${section === key ? 'page' : undefined}>${label}</a>`)}
        ${last && section !== 'instances' ? html`<a href=${hrefs.instance(last)} title="Last viewed instance">Last instance</a>` : null}
        <a href="/docs">API docs</a>
      </nav>
    </header>
    <main id="main" tabindex="-1"><${Screen} route=${route} /></main>
    <${TokenDialog} request=${tokenRequest} onDone=${() => setTokenRequest(null)} />
  `;
}

loadUiState().finally(() => {
  const root = document.getElementById('app');
  root.textContent = ''; // drop the loading note
  render(html`<${App} />`, root);
});
