/**
 * What V8's optimising WebAssembly compiler costs and buys this process. Its only WebAssembly is
 * Prisma's query compiler (every database mode) and PGlite (local mode). Each probe runs in a fresh
 * `node` with the server's shipped flags (`npm run start:prod`'s), once as shipped and once without
 * `--liftoff-only`, alternated:
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:wasm
 *
 *  - prisma: the product's PostgreSQL client (createDatabase); the RSS and time of the first query (the
 *    query compiler's WebAssembly is compiled then), of eight more query shapes, and of each of them
 *    repeated (Prisma caches the plan of a shape, so this is the steady state), and the RSS 2 s later
 *    (V8 optimises WebAssembly on background threads);
 *  - pglite: the product's local-mode database (createDatabase({ pgliteMemory: true }) and the
 *    migrations, as `npm start` does at start), then 2,000 point queries and 20 full scans of a
 *    20,000-row table.
 *
 * A fresh database is created next to the one DATABASE_URL names (migrated, no rows) and dropped
 * afterwards. Settings: BENCH_ROUNDS (default 2).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createDatabase, type Database } from "../src/platform/db/index.js";
import { migrate } from "../src/platform/db/migrator.js";
import { createBenchDatabase, machineLine, median, npmScriptNodeArgs, runMain } from "./lib/common.js";
import { rssMb } from "./lib/processes.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const FLAG = "--liftoff-only";

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

type Probe = Record<string, number>;

async function prismaProbe(url: string): Promise<Probe> {
  const db = await createDatabase({ url, poolSize: 2 });
  const p = db.prisma;
  const none = "00000000-0000-0000-0000-000000000000";
  try {
    const first = await timed(() => p.user.findMany({ take: 1 }));
    const rssFirst = rssMb(process.pid);
    const shapes = [
      () => p.instance.findMany({ take: 1, include: { service: true, plan: true } }),
      () => p.user.findUnique({ where: { id: none } }),
      () => p.instance.findMany({ where: { status: "RUNNING", userId: none }, orderBy: { createdAt: "desc" } }),
      () => p.instanceEvent.findMany({ where: { instanceId: none }, take: 5 }),
      () => p.user.updateMany({ where: { id: none }, data: { name: "x" } }),
      () => p.plan.findMany({ include: { service: true } }),
      () => p.instance.count({ where: { userId: none } }),
      () => p.backup.findMany({ where: { instanceId: none }, take: 3 }),
    ];
    const newShapes = await timed(async () => {
      for (const s of shapes) await s();
    });
    const repeats = 20;
    const repeated = await timed(async () => {
      for (let i = 0; i < repeats; i++) for (const s of shapes) await s();
    });
    const rssAfter = rssMb(process.pid);
    // V8 optimises WebAssembly on background threads: what stays resident once they are done.
    await new Promise((r) => setTimeout(r, 2000));
    return { first, rssFirst, newShapes, rssAfter, rssSettled: rssMb(process.pid), perRepeat: repeated / (repeats * shapes.length) };
  } finally {
    await db.close();
  }
}

async function pgliteProbe(): Promise<Probe> {
  let db: Database | undefined;
  const ready = await timed(async () => {
    db = await createDatabase({ pgliteMemory: true });
    await migrate(db);
  });
  const d = db as Database;
  try {
    await d.execScript(
      "CREATE TABLE bench_t (id int PRIMARY KEY, v text); INSERT INTO bench_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g;",
    );
    const point = await timed(async () => {
      for (let i = 0; i < 2000; i++) await d.prisma.$queryRawUnsafe("SELECT * FROM bench_t WHERE id = $1", i);
    });
    const scans = await timed(async () => {
      for (let i = 0; i < 20; i++) await d.prisma.$queryRawUnsafe("SELECT count(*)::int AS n, max(v) AS m FROM bench_t");
    });
    return { ready, point, scans, rss: rssMb(process.pid) };
  } finally {
    await d.close();
  }
}

async function child(kind: string, url: string): Promise<void> {
  const probe = kind === "prisma" ? await prismaProbe(url) : await pgliteProbe();
  process.stdout.write(`${JSON.stringify(probe)}\n`);
}

function run(args: string[], kind: string, url: string): Probe {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...args, "--import", "tsx", self, "--child", kind, url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the ${kind} probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as Probe;
}

async function main(): Promise<void> {
  const shipped = npmScriptNodeArgs("start:prod").slice(0, -1);
  if (!shipped.includes(FLAG)) throw new Error(`start:prod no longer has ${FLAG}: ${shipped.join(" ")}`);
  const variants = [
    { name: `without ${FLAG}`, args: shipped.filter((a) => a !== FLAG) },
    { name: "as shipped", args: shipped },
  ];
  const benchDb = await createBenchDatabase("minispod_bench_wasm");
  try {
    const db = await createDatabase({ url: benchDb.url, poolSize: 2 });
    await migrate(db);
    await db.close();
    const results = new Map(variants.map((v) => [v.name, { prisma: [] as Probe[], pglite: [] as Probe[] }]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        process.stderr.write(`[bench:wasm] round ${r + 1} of ${ROUNDS}: ${v.name}\n`);
        const out = results.get(v.name) as { prisma: Probe[]; pglite: Probe[] };
        out.prisma.push(run(v.args, "prisma", benchDb.url));
        out.pglite.push(run(v.args, "pglite", benchDb.url));
      }
    }
    // The table's columns: which probe, which value, its digits.
    const columns: [label: string, probe: "prisma" | "pglite", key: string, digits: number][] = [
      ["Prisma: first query ms", "prisma", "first", 0],
      ["RSS after it MB", "prisma", "rssFirst", 0],
      ["8 new shapes ms", "prisma", "newShapes", 0],
      ["RSS after them MB", "prisma", "rssAfter", 0],
      ["RSS 2 s later MB", "prisma", "rssSettled", 0],
      ["each repeated query ms", "prisma", "perRepeat", 2],
      ["PGlite: ready (open + migrate) ms", "pglite", "ready", 0],
      ["2,000 point queries ms", "pglite", "point", 0],
      ["20 scans of 20,000 rows ms", "pglite", "scans", 0],
      ["PGlite process RSS MB", "pglite", "rss", 0],
    ];
    const cell = (xs: Probe[], key: string, digits: number) =>
      `${xs.map((x) => (x[key] as number).toFixed(digits)).join(", ")} (${median(xs.map((x) => x[key] as number)).toFixed(digits)})`;
    const lines = [
      "## WebAssembly tiers: Prisma's query compiler and PGlite",
      "",
      machineLine(),
      `- command: \`DATABASE_URL=... npm run bench:wasm\` (BENCH_ROUNDS=${ROUNDS}); shipped flags: \`${shipped.join(" ")}\``,
      "- each value: every round's, in order; the median in brackets",
      "",
      `| node flags | ${columns.map(([label]) => label).join(" | ")} |`,
      `| --- |${" --- |".repeat(columns.length)}`,
      ...variants.map((v) => {
        const probes = results.get(v.name) as { prisma: Probe[]; pglite: Probe[] };
        return `| ${v.name} | ${columns.map(([, probe, key, digits]) => cell(probes[probe], key, digits)).join(" | ")} |`;
      }),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await benchDb.drop();
  }
}

const childAt = process.argv.indexOf("--child");
if (childAt >= 0) runMain(() => child(process.argv[childAt + 1] as string, process.argv[childAt + 2] as string));
else runMain(main);
