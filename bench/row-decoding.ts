/**
 * What a page of 20 instance rows costs the API's thread (client CPU) and the database backend, by how
 * the rows come over the wire: 27 plain columns per row (parsed field by field by the driver), one JSON
 * array per row (`json_build_array`, parsed once per row), or the whole page as one `json_agg` (parsed
 * once) — each then mapped to the instance body and serialised, as `GET /api/instances` does. One
 * connection, sequential, named prepared statements (as `Database.read`), in a scratch table shaped like
 * the list's joined row. Also the round trip of a one-value statement and the mapping alone.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/row-decoding.ts   # BENCH_QUERIES (default 3000)
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { createBenchDatabase, runMain } from "./lib/common.js";

const QUERIES = Number(process.env.BENCH_QUERIES ?? 3000);

const ms = (c: string) => `date_part('epoch', ${c}) * 1000`;
const VALUES = `id, name, k8s_name, status, status_message, desired_state, url, subdomain, namespace, health_status, health_reason,
  ${ms("health_checked_at")}, subscription_id, ${ms("provisioned_at")}, ${ms("terminated_at")}, ${ms("created_at")}, ${ms("updated_at")},
  s_id, s_slug, s_name, p_id, p_slug, p_name, cpu_milli, memory_mb, storage_gb, monthly_price_credits`;
const NAMES = VALUES.split(/,(?![^(]*\))/).map((v) => v.trim().replace(/^date_part\('epoch', (\w+)\) \* 1000$/, "$1"));
const COLUMNS = NAMES.map((n, k) => `${VALUES.split(/,(?![^(]*\))/)[k]?.trim()} AS ${n}`).join(", ");
const PAGE = "FROM bench_rows WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20";

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v === null ? null : new Date(Math.round(v as number)).toISOString());
const view = (r: Row) => ({
  id: r.id,
  name: r.name,
  resourceName: r.k8s_name,
  status: r.status,
  statusMessage: r.status_message,
  desiredState: r.desired_state,
  url: r.url,
  subdomain: r.subdomain,
  namespace: r.namespace,
  service: { id: r.s_id, slug: r.s_slug, name: r.s_name },
  plan: {
    id: r.p_id,
    slug: r.p_slug,
    name: r.p_name,
    cpuMilli: r.cpu_milli,
    memoryMb: r.memory_mb,
    storageGb: r.storage_gb,
    monthlyPriceCredits: r.monthly_price_credits,
  },
  resources: { cpuMilli: r.cpu_milli, memoryMb: r.memory_mb, storageGb: r.storage_gb },
  health: { status: r.health_status, reason: r.health_reason, checkedAt: iso(r.health_checked_at) },
  subscriptionId: r.subscription_id,
  provisionedAt: iso(r.provisioned_at),
  terminatedAt: iso(r.terminated_at),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});
const fromTuple = (t: unknown[]) => {
  const r: Row = {};
  for (let k = 0; k < NAMES.length; k++) r[NAMES[k] as string] = t[k];
  return view(r);
};

const variants: Record<string, { text: string; map: (rows: Row[]) => unknown[] }> = {
  "27 plain columns per row": { text: `SELECT ${COLUMNS} ${PAGE}`, map: (rows) => rows.map(view) },
  "one json_build_array per row": {
    text: `SELECT json_build_array(${VALUES})::text AS j ${PAGE}`,
    map: (rows) => rows.map((r) => fromTuple(JSON.parse(r.j as string))),
  },
  "the page as one json_agg": {
    text: `SELECT coalesce(json_agg(json_build_array(${VALUES}) ORDER BY created_at DESC, id DESC), '[]')::text AS j
      FROM (SELECT * ${PAGE}) page`,
    map: (rows) => (JSON.parse(rows[0]?.j as string) as unknown[][]).map(fromTuple),
  },
};

const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system;
const backendMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
};

async function main(): Promise<void> {
  const db = await createBenchDatabase("minispod_bench_rows");
  const client = new pg.Client({ connectionString: db.url });
  try {
    await client.connect();
    await client.query(`CREATE TABLE bench_rows (id text PRIMARY KEY, name text, k8s_name text, status text, status_message text,
      desired_state text, url text, subdomain text, namespace text, health_status text, health_reason text,
      health_checked_at timestamptz(3), subscription_id text, provisioned_at timestamptz(3), terminated_at timestamptz(3),
      created_at timestamptz(3), updated_at timestamptz(3), user_id text, s_id text, s_slug text, s_name text, p_id text,
      p_slug text, p_name text, cpu_milli int, memory_mb int, storage_gb int, monthly_price_credits int)`);
    for (let k = 0; k < 20; k++) {
      await client.query(
        `INSERT INTO bench_rows VALUES (gen_random_uuid()::text, 'my n8n ' || $1, 'n8n-a1b2c3' || $1, 'RUNNING', NULL, 'RUNNING',
          'https://n8n-a1b2c3' || $1 || '.apps.minispod.example', 'n8n-a1b2c3' || $1, 'u-5f2a9c1e0b7d', 'HEALTHY', NULL, now(),
          gen_random_uuid()::text, now(), NULL, now(), now(), 'bench-user', gen_random_uuid()::text, 'n8n', 'n8n',
          gen_random_uuid()::text, 'starter', 'Starter', 500, 1024, 10, 1500)`,
        [String(k)],
      );
    }
    const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;
    console.log(`| round | rows as | API-side CPU us per page (query + map + JSON) | backend CPU us per page | body bytes |`);
    console.log("| --- | --- | --- | --- | --- |");
    for (const round of [1, 2]) {
      for (const [name, v] of Object.entries(variants)) {
        const q = { name: `bench_${Object.keys(variants).indexOf(name)}`, text: v.text, values: ["bench-user"] };
        let bytes = 0;
        for (let i = 0; i < QUERIES / 10; i++) JSON.stringify({ data: v.map((await client.query(q)).rows) });
        const c0 = process.cpuUsage();
        const b0 = backendMs(backend);
        for (let i = 0; i < QUERIES; i++) bytes = JSON.stringify({ data: v.map((await client.query(q)).rows) }).length;
        const c = cpuUs(process.cpuUsage(c0));
        const b = backendMs(backend) - b0;
        console.log(`| ${round} | ${name} | ${(c / QUERIES).toFixed(0)} | ${((b * 1000) / QUERIES).toFixed(0)} | ${bytes} |`);
      }
    }
    const one = { name: "bench_one", text: "SELECT 1 AS x WHERE $1::text IS NOT NULL", values: ["bench-user"] };
    for (let i = 0; i < QUERIES / 10; i++) await client.query(one);
    const c0 = process.cpuUsage();
    for (let i = 0; i < QUERIES; i++) await client.query(one);
    console.log(
      `\n- the round trip of a one-value prepared statement: ${(cpuUs(process.cpuUsage(c0)) / QUERIES).toFixed(0)} us of client CPU`,
    );
    const rows = (
      await client.query({ name: "bench_0", text: variants["27 plain columns per row"]?.text as string, values: ["bench-user"] })
    ).rows;
    const c1 = process.cpuUsage();
    for (let i = 0; i < QUERIES; i++) JSON.stringify({ data: rows.map(view) });
    console.log(`- mapping 20 parsed rows to bodies and serialising them: ${(cpuUs(process.cpuUsage(c1)) / QUERIES).toFixed(0)} us`);
  } finally {
    await client.end();
    await db.drop();
  }
}

runMain(main);
