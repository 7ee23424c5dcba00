/**
 * The developer request files are for VS Code's REST Client (humao.rest-client) and must run there
 * unchanged: only its own syntax — `###` separators, `@var = value` file variables, `# @name`,
 * request variables `{{name.response.body.$.path}}` / `{{name.response.headers.Name}}`, system
 * variables (`{{$guid}}`, ...) and environment variables. No httpYac script blocks, `# @ref`,
 * `{{name.field}}` shorthands, JavaScript expressions or assertions. (rest/end-to-end-test.rest is the
 * one httpYac file, and says so at its top.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const FILES = [
  "rest/auth.rest",
  "rest/credits.rest",
  "rest/subscriptions.rest",
  "rest/instance.rest",
  "rest/instance-stop-start.rest",
  "rest/backups.rest",
  "rest/backup-retention.rest",
  "rest/admin/health.rest",
  "rest/upgrades.rest",
  "rest/admin/versions.rest",
];
/** Provided by the REST Client environment (README: "Developer requests"), not defined in the files. */
const ENVIRONMENT = new Set(["host", "adminPassword"]);
/** REST Client's request metadata comments. */
const METADATA = new Set(["name", "note", "prompt", "no-redirect", "no-cookie-jar"]);
/**
 * `# @waitFor $.json.path VALUE[|VALUE]` before a GET: a plain comment to REST Client (it ignores
 * metadata it does not know), read by httpYac through .httpyac.config.cjs, which polls the request
 * until its response shows the value (so scripts/rest-e2e.sh can run files that wait on the cluster).
 */
const WAIT_FOR = /^\$(\.[A-Za-z_]\w*|\[\d+\])+ [\w-]+(\|[\w-]+)*$/;
const IDENT = /^[A-Za-z_][\w-]*$/;
const SYSTEM =
  /^\$(guid|randomInt -?\d+ -?\d+|timestamp( -?\d+ (y|M|w|d|h|m|s|ms))?|(datetime|localDatetime) (rfc1123|iso8601|'[^']*'|"[^"]*")( -?\d+ (y|M|w|d|h|m|s|ms))?|processEnv %?[\w]+|dotenv %?[\w]+|shared [\w]+)$/;
const REQUEST_VAR = /^([A-Za-z_][\w-]*)\.(request|response)\.(body|headers)\.(.+)$/;
const JSON_PATH = /^(\*|\$(\.[A-Za-z_][\w]*|\[\d+\])*)$/;

/** Every problem with one file's syntax (empty: REST Client syntax only). */
function problems(text: string): string[] {
  const out: string[] = [];
  const lines = text.split("\n");
  const fileVars = new Set<string>();
  const requestNames = new Set<string>();
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    const fileVar = /^@([^\s=]+)\s*=\s*(.*)$/.exec(line);
    if (fileVar) {
      if (!IDENT.test(fileVar[1] ?? "")) out.push(`${at}: bad file variable name ${fileVar[1]}`);
      fileVars.add(fileVar[1] ?? "");
    }
    const meta = /^\s*(#|\/\/)\s*@([\w-]+)(?:\s+(.*))?$/.exec(line);
    if (meta) {
      if (meta[2] === "waitFor") {
        if (!WAIT_FOR.test((meta[3] ?? "").trim())) out.push(`${at}: '# @waitFor' needs a JSONPath and a value`);
        const request = lines.slice(i + 1).find((l) => /^(GET|POST|PUT|PATCH|DELETE) /.test(l));
        if (!request?.startsWith("GET ")) out.push(`${at}: '# @waitFor' must precede a GET request`);
      } else if (!METADATA.has(meta[2] ?? "")) out.push(`${at}: '# @${meta[2]}' is not REST Client metadata`);
      if (meta[2] === "name") requestNames.add((meta[3] ?? "").trim());
    }
    if (/^\s*\{\{\s*$/.test(line) || /^\s*\}\}\s*$/.test(line)) out.push(`${at}: script block`);
    if (/^\s*\?\?/.test(line)) out.push(`${at}: httpYac assertion`);
    if (/^\s*(>|<\?)\s*\{%/.test(line)) out.push(`${at}: response handler script`);
    if (/^Idempotency-Key:/i.test(line) && !/^Idempotency-Key: \{\{\$guid\}\}$/.test(line))
      out.push(`${at}: Idempotency-Key must be {{$guid}}`);
  });
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (/^\s*(#|\/\/)/.test(line)) return;
    for (const m of line.matchAll(/\{\{(.*?)\}\}/g)) {
      const expr = m[1] ?? "";
      if (expr !== expr.trim()) out.push(`${at}: {{${expr}}} has surrounding spaces`);
      const rv = REQUEST_VAR.exec(expr);
      if (expr.startsWith("$")) {
        if (!SYSTEM.test(expr)) out.push(`${at}: {{${expr}}} is not a REST Client system variable`);
      } else if (rv) {
        if (!requestNames.has(rv[1] ?? "")) out.push(`${at}: {{${expr}}} refers to no '# @name ${rv[1]}' in this file`);
        if (rv[3] === "body" && !JSON_PATH.test(rv[4] ?? "")) out.push(`${at}: {{${expr}}}: the body part must be * or a simple JSONPath`);
        if (rv[3] === "headers" && !/^[\w-]+$/.test(rv[4] ?? "")) out.push(`${at}: {{${expr}}}: bad header name`);
      } else if (IDENT.test(expr)) {
        if (!fileVars.has(expr) && !ENVIRONMENT.has(expr))
          out.push(`${at}: {{${expr}}} is neither a file variable nor an environment variable`);
      } else {
        out.push(`${at}: {{${expr}}} is not REST Client syntax (shorthand or JavaScript)`);
      }
    }
  });
  return out;
}

describe("the developer .rest files use only REST Client syntax", () => {
  for (const file of FILES) {
    it(file, () => {
      const text = readFileSync(file, "utf8");
      expect(problems(text)).toEqual([]);
      // Something to run: named requests separated by ###, and a base URL from a file variable.
      expect(text).toMatch(/^@baseUrl = \{\{host\}\}$/m);
      expect(text.split(/^###$/m).length).toBeGreaterThan(2);
    });
  }

  it("catches what REST Client cannot run (the check can fail)", () => {
    const bad = [
      "{{",
      '  exports.baseUrl = "http://localhost:3000";',
      "}}",
      "# @name login",
      "# @ref login",
      "GET {{baseUrl}}/api/auth/me",
      "Authorization: Bearer {{login.accessToken}}",
      "Idempotency-Key: dev-key-1",
      "X-A: {{services.data.find((s) => s.id)?.id}}",
      "X-B: {{other.response.body.$.id}}",
      "X-C: {{$uuid}}",
      "?? status == 200",
      "# @waitFor status",
      "# @waitFor $.instance.status RUNNING",
      "POST /api/x",
    ].join("\n");
    expect(problems(bad)).toEqual([
      "line 1: script block",
      "line 3: script block",
      "line 5: '# @ref' is not REST Client metadata",
      "line 8: Idempotency-Key must be {{$guid}}",
      "line 12: httpYac assertion",
      "line 13: '# @waitFor' needs a JSONPath and a value",
      "line 13: '# @waitFor' must precede a GET request",
      "line 14: '# @waitFor' must precede a GET request",
      "line 6: {{baseUrl}} is neither a file variable nor an environment variable",
      "line 7: {{login.accessToken}} is not REST Client syntax (shorthand or JavaScript)",
      "line 9: {{services.data.find((s) => s.id)?.id}} is not REST Client syntax (shorthand or JavaScript)",
      "line 10: {{other.response.body.$.id}} refers to no '# @name other' in this file",
      "line 11: {{$uuid}} is not a REST Client system variable",
    ]);
  });

  it("the httpYac assertion file says so at its top", () => {
    const head = readFileSync("rest/end-to-end-test.rest", "utf8").split("\n").slice(0, 5).join("\n");
    expect(head).toMatch(/httpYac/);
    expect(head).toMatch(/not REST Client syntax/i);
  });
});
