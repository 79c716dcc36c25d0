// Starts Swagger UI on /docs (web/routes/apidocs.py): a file, not an inline script, so the
// page runs under Parley's Content-Security-Policy.
/* global SwaggerUIBundle */
// @ts-nocheck
// Parley's root (a path when it is mounted in another app): the page's parley-root meta.
const root = document.querySelector('meta[name="parley-root"]')?.getAttribute('content') || '/';
SwaggerUIBundle({
  url: `${root}openapi.json`,
  dom_id: '#swagger-ui',
  deepLinking: true,
});
