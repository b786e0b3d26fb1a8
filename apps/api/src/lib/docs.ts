import type { Hono } from "hono";
import type { AppDeps, AppEnv } from "./app-env.ts";

/** Swagger UI served from our own assets (no CDN), so /docs renders with no internet access. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>CELINE Flexibility API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/docs-init.js"></script>
</body>
</html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });`;

export function mountDocs(app: Hono<AppEnv>, deps: AppDeps) {
  app.get("/docs", (c) => c.html(PAGE));
  app.get("/docs/assets/docs-init.js", (c) => c.body(INIT, 200, { "content-type": "text/javascript" }));
  app.get("/docs/assets/:name", async (c) => {
    const name = c.req.param("name");
    const asset = /^[\w.-]+$/.test(name) && deps.docsAsset ? await deps.docsAsset(name) : null;
    return asset ?? c.notFound();
  });
}
