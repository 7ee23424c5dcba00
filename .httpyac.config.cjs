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

module.exports = {
  configureHooks(api) {
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
