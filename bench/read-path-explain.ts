/**
 * Database time of the admin health read path and the backup schedule's fleet queries at fleet scale,
 * measured by PostgreSQL itself (EXPLAIN (ANALYZE, BUFFERS)): load-independent, unlike req/s.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:explain
 *
 * A fresh database next to DATABASE_URL's (dropped afterwards unless BENCH_KEEP=1; BENCH_DB_URL reuses a
 * kept one, migrating it and seeding nothing), seeded by SQL: BENCH_FLEET instances (default 10,000;
 * ten days old, mostly RUNNING, on a plan with daily backups) with a week of daily READY scheduled
 * backups each — except one in 40, whose last good backup is three days old (overdue) — and
 * BENCH_HISTORY_DAYS (30) x BENCH_SWEEPS_PER_DAY (4) sweeps of health history. Then each statement the
 * service sends (captured from the service itself, so this measures the very statement it runs) is
 * EXPLAINed BENCH_RUNS times (default 7); the median execution time and the first plan (BENCH_PLANS=0: none)
 * are printed. Before measuring, the end of a health sweep is replayed (HealthRepository.refreshFleetCounts:
 * the instance counts folded, the overdue count stored), as the summary finds them in production.
 * BENCH_ROLLUP_MINUTES=5 adds a rollup row every 5 minutes of the history (what 5-minute sweeps leave,
 * without seeding 86 million records; the stats' cost depends on the number of rollup rows only).
 */
import pg from "pg";
import { dueInstancesSql, overdueCountSql, overdueUnnotedSql, storedOverdueCountSql } from "../src/modules/backups/backup-schedule.sql.js";
import { seedCatalog } from "../src/modules/catalog/catalog.seed.js";
import { HealthRepository } from "../src/modules/health/health.repository.js";
import { HealthService } from "../src/modules/health/health.service.js";
import { compactInstanceCountsSql } from "../src/modules/health/health.sql.js";
import { createDatabase, Prisma } from "../src/platform/db/index.js";
import { migrate } from "../src/platform/db/migrator.js";
import { createBenchDatabase, median, runMain } from "./lib/common.js";
import { seedHealthHistory } from "./lib/health-history.js";

const FLEET = Number(process.env.BENCH_FLEET ?? 10_000);
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 30);
const SWEEPS_PER_DAY = Number(process.env.BENCH_SWEEPS_PER_DAY ?? 4);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const DAY = 86_400_000;

const progress = (msg: string) => process.stderr.write(`[bench:explain ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function seed(pool: pg.Pool): Promise<void> {
  const now = Date.now();
  const plan = (
    await pool.query<{ id: string; service_id: string }>(
      `SELECT p."id", p."service_id" FROM "plans" p JOIN "services" s ON s."id" = p."service_id"
        WHERE s."template" = 'ghost' AND p."backup_retention" > 0 AND p."storage_gb" > 0 ORDER BY p."cpu_milli" LIMIT 1`,
    )
  ).rows[0];
  if (!plan) throw new Error("no ghost plan with backups");
  await pool.query(
    `INSERT INTO "users" ("id","email","password_hash","name","updated_at") VALUES ('bench-user', 'bench@bench.invalid', 'x', 'bench', now())`,
  );
  const created = new Date(now - 10 * DAY);
  await pool.query(
    `INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
     SELECT 'sub-' || g, 'bench-user', $1, $2::timestamptz, $2::timestamptz + interval '30 days', $2::timestamptz FROM generate_series(1, $3) g`,
    [plan.id, created, FLEET],
  );
  // Mostly RUNNING (and HEALTHY), a few of every other kind.
  await pool.query(
    `INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain",
                              "status","desired_state","health_status","generation","observed_generation","applied_generation",
                              "provisioned_at","created_at","updated_at")
     SELECT 'fleet-' || g, 'bench-user', 'sub-' || g, $1, $2, 'fleet-' || g, 'app-' || g, 'ns-' || (g / 10), 'fleet-' || g || '.bench.invalid',
            (CASE WHEN g % 50 = 0 THEN 'STOPPED' WHEN g % 97 = 0 THEN 'TERMINATED' WHEN g % 89 = 0 THEN 'FAILED' ELSE 'RUNNING' END)::"InstanceStatus",
            (CASE WHEN g % 50 = 0 THEN 'STOPPED' WHEN g % 97 = 0 OR g % 89 = 0 THEN 'TERMINATED' ELSE 'RUNNING' END)::"DesiredState",
            (CASE WHEN g % 50 = 0 OR g % 97 = 0 OR g % 89 = 0 THEN 'UNKNOWN' WHEN g % 31 = 0 THEN 'DEGRADED' WHEN g % 43 = 0 THEN 'UNHEALTHY' ELSE 'HEALTHY' END)::"HealthStatus",
            1, 1, 1, $3, $3, $3
       FROM generate_series(1, $4) g`,
    [plan.service_id, plan.id, created, FLEET],
  );
  // A week of daily READY scheduled backups per instance; one in 40 stopped getting good ones three days ago.
  await pool.query(
    `INSERT INTO "backups" ("id","instance_id","user_id","status","trigger","namespace","pvc_name","snapshot_name","snapshot_class",
                            "deadline","ready_at","snapshot_created_at","created_at","updated_at")
     SELECT 'b-' || g || '-' || d, 'fleet-' || g, 'bench-user', 'READY', 'scheduled', 'ns-' || (g / 10), 'app-' || g || '-pvc',
            'snap-' || g || '-' || d, 'csi-snapshots', t, t, t, t, t
       FROM generate_series(1, $1) g, generate_series(1, 7) d, LATERAL (SELECT $2::timestamptz - make_interval(days => d) AS t) x
      WHERE g % 40 <> 0 OR d >= 3`,
    [FLEET, new Date(now)],
  );
  await pool.query(
    `INSERT INTO "backup_schedules" ("instance_id","last_slot_at","updated_at")
     SELECT 'fleet-' || g, $1::timestamptz - interval '1 day', $1 FROM generate_series(1, $2) g`,
    [new Date(now), FLEET],
  );
  const ids = (await pool.query<{ id: string }>(`SELECT "id" FROM "instances" WHERE "status" = 'RUNNING' ORDER BY "id"`)).rows.map(
    (r) => r.id,
  );
  await seedHealthHistory(pool, ids, {
    days: HISTORY_DAYS,
    sweepsPerDay: SWEEPS_PER_DAY,
    now,
    onSweep: (done, of) => {
      if (done % 20 === 0) progress(`history: ${done}/${of} sweeps`);
    },
  });
  await pool.query("VACUUM ANALYZE");
}

interface Explained {
  ms: number[];
  planningMs: number[];
  plan: string;
}

async function explain(pool: pg.Pool, sql: Prisma.Sql): Promise<Explained> {
  const out: Explained = { ms: [], planningMs: [], plan: "" };
  for (let i = 0; i < RUNS; i++) {
    const r = await pool.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql.text}`, sql.values as unknown[]);
    const lines = r.rows.map((x) => x["QUERY PLAN"]);
    out.ms.push(Number(/Execution Time: ([\d.]+)/.exec(lines.join("\n"))?.[1]));
    out.planningMs.push(Number(/Planning Time: ([\d.]+)/.exec(lines.join("\n"))?.[1]));
    if (i === 0) out.plan = lines.join("\n");
  }
  return out;
}

async function main(): Promise<void> {
  const kept = process.env.BENCH_DB_URL;
  const benchDb = kept ? undefined : await createBenchDatabase("minispod_bench_explain");
  const url = kept ?? (benchDb?.url as string);
  const db = await createDatabase({ url, poolSize: 2 });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await migrate(db);
    if (!kept) {
      progress(`seeding ${FLEET} instances, backups and ${HISTORY_DAYS} days of history into ${url}`);
      await seedCatalog(db.prisma);
      await seed(pool);
    }
    const rollupMinutes = Number(process.env.BENCH_ROLLUP_MINUTES ?? 0);
    if (rollupMinutes > 0) {
      await pool.query(
        `INSERT INTO "health_check_rollups" SELECT t, 10000, 9900, 50, 30, 20, 2500000, 10000, 450, 5000000, 10000, 999, 3
           FROM generate_series(now() - make_interval(days => $1), now(), make_interval(mins => $2)) t ON CONFLICT DO NOTHING`,
        [HISTORY_DAYS, rollupMinutes],
      );
      await pool.query(`ANALYZE "health_check_rollups"`);
    }
    const now = new Date();
    // What the loops leave behind (the end of a health sweep): the stored values the summary reads.
    await new HealthRepository(db.prisma).refreshFleetCounts(now);
    // The statements the service sends, captured (the service gets no rows back: only the SQL matters here).
    const captured: Prisma.Sql[] = [];
    const health = new HealthService({
      prisma: db.prisma,
      read: async (sql) => {
        captured.push(sql);
        return [];
      },
      clock: { now: () => now },
      runner: { runNow: () => Promise.reject(new Error("no sweeps here")) },
    });
    await health.summary();
    await health.stats({ range: "30d" });
    const [summarySql, statsSql] = captured as [Prisma.Sql, Prisma.Sql];
    const cases: Array<[string, Prisma.Sql]> = [
      ["GET /api/admin/health/summary", summarySql],
      ["GET /api/admin/health/stats?range=30d", statsSql],
      ["backup overdue count (the rule, counted)", Prisma.sql`SELECT ${overdueCountSql(now)}`],
      ["backup overdue count (stored, as /metrics reads it)", Prisma.sql`SELECT ${storedOverdueCountSql(now)}`],
      ["backup loop: store the overdue count + the unannounced ones (batch 50)", overdueUnnotedSql(now, 50)],
      ["backup schedule: due instances (batch 50)", dueInstancesSql(now, 4 * 3_600_000, 50)],
      ["end of a sweep: fold the instance-count deltas", compactInstanceCountsSql],
    ];
    const counts = (
      await pool.query(`SELECT (SELECT count(*) FROM "instances")::int AS "instances",
      (SELECT count(*) FROM "backups")::int AS "backups", (SELECT count(*) FROM "health_checks")::int AS "checks",
      (SELECT count(*) FROM "health_check_rollups")::int AS "rollups"`)
    ).rows[0];
    process.stdout.write(`fixture: ${JSON.stringify(counts)}\n`);
    for (const [name, sql] of cases) {
      // One warm-up (caches, plan), then the measured runs.
      await pool.query(sql.text, sql.values as unknown[]);
      const e = await explain(pool, sql);
      process.stdout.write(
        `\n## ${name}: execution ${median(e.ms).toFixed(3)} ms (median of ${RUNS}; min ${Math.min(...e.ms).toFixed(3)}), planning ${median(e.planningMs).toFixed(3)} ms\n`,
      );
      if (process.env.BENCH_PLANS !== "0") process.stdout.write(`${e.plan}\n`);
    }
  } finally {
    await pool.end();
    await db.close();
    if (benchDb && process.env.BENCH_KEEP !== "1") await benchDb.drop();
    else if (benchDb) process.stderr.write(`kept: BENCH_DB_URL=${url}\n`);
  }
}

runMain(main);
