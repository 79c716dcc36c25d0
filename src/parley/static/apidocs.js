// Starts Swagger UI on /docs (web/routes/apidocs.py): a file, not an inline script, so the
// page runs under Parley's Content-Security-Policy.
/* global SwaggerUIBundle */
// @ts-nocheck
SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
});
