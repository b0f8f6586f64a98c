// Configures Swagger UI on /docs: the contract this server serves, requests
// sent to this server (whatever the contract's `servers` say), no external
// validator, try-it-out on, and the panel's bearer token (sessionStorage
// 'rt.token', shared with the panel's tab) added to every request.

const TOKEN_KEY = 'rt.token';

for (const el of document.querySelectorAll('.host')) el.textContent = location.host;
const token = sessionStorage.getItem(TOKEN_KEY);
document.getElementById('auth-note').textContent = token
  ? 'Requests carry the access token of this tab.'
  : '';

window.ui = window.SwaggerUIBundle({
  url: '/openapi.yaml',
  dom_id: '#swagger-ui',
  // Deep links are off: operation ids hold '_', which Swagger UI 5 reads as an
  // escaped space and logs a deprecation error for.
  deepLinking: false,
  validatorUrl: null,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  requestInterceptor: (req) => {
    // Same origin, whatever host/port the contract's server variables hold.
    try {
      const u = new URL(req.url, location.href);
      if (u.origin !== location.origin) req.url = location.origin + u.pathname + u.search;
    } catch {
      /* leave it */
    }
    const t = sessionStorage.getItem(TOKEN_KEY);
    if (t) req.headers.Authorization = `Bearer ${t}`;
    return req;
  },
});
