// Hash routes of the panel (pure, DOM-free): "#/..." -> {screen, params}.

const INSTANCE = '([0-9a-fA-F-]{36})';
const ROUTES = [
  [/^\/?$/, 'instances', []],
  [/^\/instances\/?$/, 'instances', []],
  [new RegExp(`^/instance/${INSTANCE}/?$`), 'instance', ['id']],
  [new RegExp(`^/instance/${INSTANCE}/zones/?$`), 'zones', ['id']],
  [new RegExp(`^/instance/${INSTANCE}/export/?$`), 'export', ['id']],
  [/^\/events\/?$/, 'events', []],
  [/^\/cameras\/?$/, 'cameras', []],
  [/^\/system\/?$/, 'system', []],
];

export function parseRoute(hash) {
  const path = (hash || '').replace(/^#/, '').split('?')[0] || '/';
  for (const [re, screen, names] of ROUTES) {
    const m = re.exec(path);
    if (m) return { screen, params: Object.fromEntries(names.map((n, i) => [n, m[i + 1].toLowerCase()])) };
  }
  return { screen: 'notfound', params: { path } };
}

export const hrefs = {
  instances: () => '#/',
  instance: (id) => `#/instance/${id}`,
  zones: (id) => `#/instance/${id}/zones`,
  export: (id) => `#/instance/${id}/export`,
  events: () => '#/events',
  cameras: () => '#/cameras',
  system: () => '#/system',
};
