// httpYac configuration for the request files in rest/.
//
// The files (except rest/end-to-end-test.rest) are written in the VS Code REST Client's own syntax,
// whose request variables read a named request's response: {{login.response.body.$.accessToken}},
// {{login.response.headers.X-Request-Id}}, {{name.request.body.$.x}}. httpYac 6 resolves
// {{login.accessToken}} (its own shorthand) but not these, so CI (scripts/rest-e2e.sh) could not run
// the files unchanged. This hook resolves exactly REST Client's form — a JSONPath of `$`, `.key` and
// `[index]` steps, or `*` for the whole body; header names case-insensitive — before httpYac's own
// JavaScript evaluation. A reference that cannot be resolved is left as it is, as REST Client does.
const REF = /^\s*([A-Za-z_][\w-]*)\.(response|request)\.(body|headers)\.(.+?)\s*$/;

function jsonPath(value, path) {
  if (path === "*") return value;
  if (!path.startsWith("$")) return undefined;
  let cur = value;
  const steps = path.slice(1).match(/\.[^.[\]]+|\[\d+\]|\['[^']*'\]|\["[^"]*"\]/g) ?? [];
  if (steps.join("") !== path.slice(1)) return undefined;
  for (const step of steps) {
    if (cur === null || cur === undefined) return undefined;
    const key = step.startsWith(".") ? step.slice(1) : step.startsWith("[") && /^\[\d+\]$/.test(step) ? Number(step.slice(1, -1)) : step.slice(2, -2);
    cur = cur[key];
  }
  return cur;
}

function headerValue(headers, name) {
  const entry = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name.toLowerCase());
  return entry ? (Array.isArray(entry[1]) ? entry[1].join(", ") : entry[1]) : undefined;
}

function resolve(expr, variables) {
  const m = REF.exec(expr);
  if (!m) return undefined;
  const [, name, side, part, path] = m;
  const response = variables[`${name}Response`];
  if (!response) return undefined;
  const message = side === "response" ? response : response.request;
  if (!message) return undefined;
  if (part === "headers") return headerValue(message.headers, path);
  let body = side === "response" ? (response.parsedBody ?? message.body) : message.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      return path === "*" ? body : undefined;
    }
  }
  const v = jsonPath(body, path);
  return v === undefined ? undefined : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

/**
 * `# @waitFor <JSONPath> <value>[|<value>...]` before a GET request: httpYac (and so scripts/rest-e2e.sh)
 * first polls that same request until the JSONPath of its response body (REST Client's `$.a.b[0]` form)
 * has one of the values, then sends it — the request then shows the state waited for. For the VS Code
 * REST Client it is an ordinary comment: the file says to send the request again until it shows the
 * state. Polls every 250 ms for up to 90 s; a timeout fails the request loudly (no response).
 */
function addWaitFor(api) {
  api.hooks.parseMetaData.addHook("waitFor", (type, value, context) => {
    if (type !== "waitFor" || !value) return false;
    const [path, wanted = ""] = value.trim().split(/\s+/);
    const values = wanted.split("|");
    context.httpRegion.hooks.execute.addHook("waitFor", async (ctx) => {
      const req = ctx.httpRegion.request;
      const url = await api.utils.replaceVariables(req.url, "url", ctx);
      const headers = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = await api.utils.replaceVariables(v, k, ctx);
      const deadline = Date.now() + 90_000;
      let last;
      for (;;) {
        const res = await fetch(url, { method: "GET", headers });
        const body = await res.json().catch(() => undefined);
        last = jsonPath(body, path);
        if (values.includes(String(last))) return true;
        if (Date.now() > deadline) throw new Error(`@waitFor ${path} ${wanted}: still ${String(last)} after 90 s (${url})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    });
    return true;
  });
}

module.exports = {
  configureHooks(api) {
    addWaitFor(api);
    api.hooks.replaceVariable.addHook(
      "restClientRequestVariables",
      async (text, _type, context) => {
        if (typeof text !== "string") return text;
        return text.replace(/\{\{([^{}]+)\}\}/g, (whole, expr) => resolve(expr, context.variables) ?? whole);
      },
      { before: ["javascript"] },
    );
  },
};
