// /docs: Swagger UI on this server's /openapi.json. "Try it out" calls this same
// server; "Authorize" takes the API key (the document's bearer scheme) and keeps
// it in memory only (gone with the tab or a reload).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
  tryItOutEnabled: false,
});
