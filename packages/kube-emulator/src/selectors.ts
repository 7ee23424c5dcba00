/**
 * Label and field selectors, parsed once per request into a predicate.
 * Grammar follows apimachinery's labels.Parse: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
 * `a`, `!a`, comma-separated and ANDed. TEST/DEMO FIXTURE — see index.ts.
 */
import { errors } from "./errors.js";
import type { KubeObject } from "./types.js";

export type Matcher = (obj: KubeObject) => boolean;

type Op = "=" | "!=" | "in" | "notin" | "exists" | "!exists";
interface Requirement {
  key: string;
  op: Op;
  values: string[];
}

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Split on commas that are not inside parentheses. */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseRequirement(raw: string): Requirement {
  const fail = (why: string) => errors.badRequest(`unable to parse requirement: ${why}`);
  let m = /^(!)?\s*([^\s=!(),]+)$/.exec(raw);
  if (m) {
    const key = m[2];
    if (!KEY_RE.test(key)) throw fail(`invalid label key "${key}"`);
    return { key, op: m[1] ? "!exists" : "exists", values: [] };
  }
  m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(raw);
  if (m) {
    const values = m[3].split(",").map((v) => v.trim());
    for (const v of values) if (!VALUE_RE.test(v) || v.length > 63) throw fail(`invalid label value "${v}"`);
    if (!KEY_RE.test(m[1])) throw fail(`invalid label key "${m[1]}"`);
    return { key: m[1], op: m[2] as Op, values };
  }
  m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(raw);
  if (m) {
    if (!KEY_RE.test(m[1])) throw fail(`invalid label key "${m[1]}"`);
    if (!VALUE_RE.test(m[3]) || m[3].length > 63) throw fail(`invalid label value "${m[3]}"`);
    return { key: m[1], op: m[2] === "!=" ? "!=" : "=", values: [m[3]] };
  }
  throw fail(`found '${raw}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
}

function matchRequirement(req: Requirement, labels: Record<string, string> | undefined): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, req.key);
  const v = has ? labels[req.key] : undefined;
  switch (req.op) {
    case "exists":
      return has;
    case "!exists":
      return !has;
    case "=":
      return has && v === req.values[0];
    case "!=":
      return !has || v !== req.values[0];
    case "in":
      return has && req.values.includes(v as string);
    case "notin":
      return !has || !req.values.includes(v as string);
  }
}

/** Parses a label selector; an empty or absent selector matches everything. */
export function parseLabelSelector(selector: string | undefined | null): Matcher | undefined {
  if (!selector?.trim()) return undefined;
  const reqs = splitTopLevel(selector).map(parseRequirement);
  return (obj) => {
    const labels = obj.metadata.labels;
    for (const req of reqs) if (!matchRequirement(req, labels)) return false;
    return true;
  };
}

/** Matches a structured metav1.LabelSelector (matchLabels + matchExpressions) against labels. */
export function matchesLabelSelector(
  selector: {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  },
  labels: Record<string, string> | undefined,
): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels?.[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const op = (
      {
        In: "in",
        NotIn: "notin",
        Exists: "exists",
        DoesNotExist: "!exists",
      } as const
    )[e.operator as "In"];
    if (!op || !matchRequirement({ key: e.key, op, values: e.values ?? [] }, labels)) return false;
  }
  return true;
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

/** Parses a field selector restricted to the fields the real server supports for this kind. */
export function parseFieldSelector(selector: string | undefined | null, supported: readonly string[]): Matcher | undefined {
  if (!selector?.trim()) return undefined;
  const reqs = splitTopLevel(selector).map((raw) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw);
    if (!m) throw errors.badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const field = m[1].trim();
    if (!supported.includes(field)) {
      throw errors.badRequest(`field label not supported: ${field}`);
    }
    return { field, neg: m[2] === "!=", value: m[3].trim() };
  });
  return (obj) => {
    for (const r of reqs) if ((fieldValue(obj, r.field) === r.value) === r.neg) return false;
    return true;
  };
}
