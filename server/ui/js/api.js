// The one place the panel talks to the server: every REST call goes through
// `request` (JSON in and out, `Authorization: Bearer <token>` when the tab
// holds a token in sessionStorage 'rt.token'). On a 401 the panel asks for the
// token once (concurrent 401s share one prompt), keeps it for the tab and
// retries. Errors throw `ApiError` carrying the server's JSON `message`.
// Streams (SSE, MJPEG) use `authHeaders` and `askForToken` from here too.

const TOKEN_KEY = 'rt.token';

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders() {
  const t = getToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// The UI installs a function that shows the token dialog and resolves with
// the token typed, or '' when cancelled.
let prompt = null;
let pending = null;
export function setTokenPrompt(fn) {
  prompt = fn;
}

// Asks for a token (once for all callers waiting at the same time); true
// when one was given.
export async function askForToken(reason) {
  if (!prompt) return false;
  if (!pending) {
    pending = prompt(reason).finally(() => {
      pending = null;
    });
  }
  const t = await pending;
  if (t) setToken(t);
  return Boolean(t);
}

async function errorFrom(res) {
  let body = null;
  let message = `${res.status} ${res.statusText}`;
  try {
    body = await res.json();
    if (body && body.message) message = body.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, message, body);
}

// fetch with the token, asking for one on 401 and retrying once.
export async function authFetch(url, init = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { ...init, headers: { ...(init.headers || {}), ...authHeaders() } });
    if (res.status === 401 && attempt === 0) {
      const msg = (await errorFrom(res)).message;
      if (await askForToken(msg)) continue;
    }
    return res;
  }
}

// A JSON call. `body` (any JSON value) is sent when not undefined. Resolves
// with the parsed JSON, or null for an empty answer (204).
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  const init = { method, headers, signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await authFetch(path, init);
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  return (res.headers.get('content-type') || '').includes('json') ? JSON.parse(text) : text;
}

// Pushes one image file to a `Manual` instance (`frame` and `timestamp` as
// a multipart form); resolves on 204, throws an ApiError with the server's
// message otherwise.
export async function pushImage(id, file) {
  const form = new FormData();
  form.append('frame', file, file.name);
  form.append('timestamp', String(Date.now()));
  const res = await authFetch(paths.push(id), { method: 'POST', body: form });
  if (!res.ok) throw await errorFrom(res);
}

export const api = {
  get: (p, o) => request('GET', p, undefined, o),
  post: (p, b, o) => request('POST', p, b, o),
  put: (p, b, o) => request('PUT', p, b, o),
  patch: (p, b, o) => request('PATCH', p, b, o),
  del: (p, o) => request('DELETE', p, undefined, o),
};

const enc = encodeURIComponent;
// Paths of the contract's operations the panel uses.
export const paths = {
  instances: () => '/v1/core/instances',
  instanceCreate: () => '/v1/core/instance',
  instance: (id) => `/v1/core/instance/${enc(id)}`,
  action: (id, a) => `/v1/core/instance/${enc(id)}/${a}`,
  config: (id) => `/v1/core/instance/${enc(id)}/config`,
  input: (id) => `/v1/core/instance/${enc(id)}/input`,
  error: (id) => `/v1/core/instance/${enc(id)}/error`,
  frame: (id) => `/v1/core/instance/${enc(id)}/frame`,
  push: (id) => `/v1/core/instance/${enc(id)}/push/compressed`,
  mjpeg: (id) => `/v1/core/instance/${enc(id)}/mjpeg`,
  events: (id) => `/v1/core/instance/${enc(id)}/consume_events_sse`,
  renderPreset: (id) => `/v1/core/instance/${enc(id)}/render_preset`,
  hls: (id) => `/v1/core/instance/${enc(id)}/output/hls`,
  rtsp: (id) => `/v1/core/instance/${enc(id)}/output/rtsp`,
  solutions: () => '/v1/core/solutions',
  securt: (id) => `/v1/securt/instance/${enc(id)}`,
  entities: (id) => `/v1/securt/instance/${enc(id)}/analytics_entities`,
  createArea: (id, type) => `/v1/securt/instance/${enc(id)}/area/${type}`,
  createLine: (id, type) => `/v1/securt/instance/${enc(id)}/line/${type}`,
  area: (id, areaId) => `/v1/securt/instance/${enc(id)}/area/${enc(areaId)}`,
  line: (id, lineId) => `/v1/securt/instance/${enc(id)}/line/${enc(lineId)}`,
  version: () => '/v1/core/version',
  systemInfo: () => '/v1/core/system/info',
  systemConfig: () => '/v1/core/system/config',
  lastError: () => '/v1/core/error',
  log: (count) => `/v1/core/log?count=${count}`,
  dbEvents: () => '/v1/database/events',
  dbAnalytics: () => '/v1/database/analytics',
  onvifDiscover: (timeout) => `/v1/onvif/discover?timeout=${timeout}`,
  onvifCameras: () => '/v1/onvif/cameras',
  onvifStreams: (cam) => `/v1/onvif/streams/${enc(cam)}`,
  onvifCredentials: (cam) => `/v1/onvif/camera/${enc(cam)}/credentials`,
  registryList: (prefix) => `/v1/rtregistry?prefix=${enc(prefix)}`,
  registry: (key) => `/v1/rtregistry/${key.split('/').map(enc).join('/')}`,
};
