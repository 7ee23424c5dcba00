/**
 * `/openapi.json` and the interactive docs at `/docs`: Swagger UI served from the `swagger-ui-dist`
 * package (no CDN), with no inline script so helmet's default Content-Security-Policy holds.
 */
import { createRequire } from "node:module";
import path from "node:path";
import express, { type Router } from "express";
import { z } from "zod";
import { doc } from "./route-meta.js";

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>MinisPod API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null,
});
`;

const OpenApiDocumentSchema = z.object({ openapi: z.string(), info: z.object({}).loose(), paths: z.object({}).loose() }).loose();

/**
 * Adds the four routes to `r` (the app itself): as routes of the app they cost every other request a
 * path match each, where a router of their own was entered — its state set up and restored — by every
 * request the server answered (bench/RESULTS.md, issue 14: ~2 KB allocated per request).
 */
export function addDocsRoutes(r: Pick<Router, "get">, document: () => unknown): void {
  r.get(
    "/openapi.json",
    doc({
      summary: "This OpenAPI 3.1 document",
      tags: ["operations"],
      operational: true,
      response: { description: "The document", schema: OpenApiDocumentSchema },
    }),
    (_req, res) => {
      res.json(document());
    },
  );
  r.get(
    "/docs",
    doc({
      summary: "Interactive API docs (Swagger UI)",
      tags: ["operations"],
      operational: true,
      response: { description: "HTML page", contentType: "text/html" },
    }),
    (_req, res) => {
      res.type("html").send(PAGE);
    },
  );
  r.get(
    "/docs/init.js",
    doc({
      summary: "Swagger UI start-up script",
      tags: ["operations"],
      operational: true,
      response: { description: "JavaScript", contentType: "text/javascript" },
    }),
    (_req, res) => {
      res.type("text/javascript").send(INIT);
    },
  );
  const assets = express.static(swaggerUiDir, { index: false, fallthrough: true, maxAge: "1h" });
  r.get(
    "/docs/assets/:file",
    doc({
      summary: "Swagger UI's files (from swagger-ui-dist)",
      tags: ["operations"],
      operational: true,
      response: { description: "The file", contentType: "*/*" },
    }),
    (req, res, next) => {
      req.url = `/${encodeURIComponent(String(req.params.file))}`;
      assets(req, res, next);
    },
  );
}
