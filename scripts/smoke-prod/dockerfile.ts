/**
 * The Dockerfile, read as data, so that the smoke test runs the image's own steps (and its ENV, CMD)
 * when no container engine is available, instead of a copy of them that could drift. Only the
 * instructions the Dockerfile uses are understood; anything else is an error that says so.
 */
import { readFileSync } from "node:fs";

export type Step =
  | { op: "WORKDIR"; dir: string }
  | { op: "ENV"; vars: Record<string, string> }
  | { op: "COPY"; from?: string; sources: string[]; dest: string }
  | { op: "RUN"; command: string }
  | { op: "USER" | "EXPOSE"; value: string }
  | { op: "CMD"; argv: string[] };

export interface Stage {
  name: string;
  base: string;
  steps: Step[];
}

/** `ENV A=1 B=two` (the KEY=VALUE form, values unquoted or double-quoted). */
function parseEnv(rest: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = m[2] ?? "";
    vars[m[1] as string] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return vars;
}

export function parseDockerfile(text: string): Stage[] {
  // Join continuation lines, drop comments and blank lines.
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`Dockerfile: cannot read "${line}"`);
      stages.push({ base: m[1] as string, name: m[2] ?? String(stages.length), steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile: "${line}" before FROM`);
    switch (upper) {
      case "WORKDIR":
        stage.steps.push({ op: "WORKDIR", dir: rest });
        break;
      case "ENV":
        stage.steps.push({ op: "ENV", vars: parseEnv(rest) });
        break;
      case "COPY": {
        const words = rest.split(/\s+/);
        const from = words[0]?.startsWith("--from=") ? words.shift()?.slice("--from=".length) : undefined;
        if (words.some((w) => w.startsWith("--"))) throw new Error(`Dockerfile: unsupported COPY flag in "${line}"`);
        const dest = words.pop();
        if (!dest || words.length === 0) throw new Error(`Dockerfile: cannot read "${line}"`);
        stage.steps.push({ op: "COPY", ...(from ? { from } : {}), sources: words, dest });
        break;
      }
      case "RUN":
        if (rest.startsWith("[")) throw new Error(`Dockerfile: exec-form RUN is not supported: "${line}"`);
        stage.steps.push({ op: "RUN", command: rest });
        break;
      case "USER":
      case "EXPOSE":
        stage.steps.push({ op: upper, value: rest });
        break;
      case "CMD":
        stage.steps.push({ op: "CMD", argv: JSON.parse(rest) as string[] });
        break;
      default:
        throw new Error(
          `Dockerfile: the smoke test does not know "${upper}"; teach scripts/smoke-prod/dockerfile.ts or use a container engine`,
        );
    }
  }
  return stages;
}

export function readDockerfile(file: string): Stage[] {
  return parseDockerfile(readFileSync(file, "utf8"));
}

/** The final stage's ENV (what every container of the image starts with) and CMD. */
export function imageRuntime(stages: Stage[]): { env: Record<string, string>; cmd: string[]; workdir: string; user: string } {
  const last = stages.at(-1);
  if (!last) throw new Error("Dockerfile: no stage");
  let env: Record<string, string> = {};
  let cmd: string[] | undefined;
  let workdir = "/";
  let user = "root";
  for (const s of last.steps) {
    if (s.op === "ENV") env = { ...env, ...s.vars };
    if (s.op === "CMD") cmd = s.argv;
    if (s.op === "WORKDIR") workdir = s.dir;
    if (s.op === "USER") user = s.value;
  }
  if (!cmd) throw new Error("Dockerfile: the final stage has no CMD");
  return { env, cmd, workdir, user };
}
