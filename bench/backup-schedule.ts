/**
 * The backup schedule's SQL against a 10,000-instance fleet on real PostgreSQL: the loop's one due query
 * per pass, the overdue count (health summary and gauge), the overdue-event query, and retention for a
 * batch. Seeds the rows straight into a fresh database (no cluster), then times each statement (median
 * of 15 runs, wall clock on the client, and the server's own `EXPLAIN ANALYZE` execution time).
 *
 *   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/backup-schedule.ts [instances]
 */
import { randomUUID } from "node:crypto";
import { createTestDatabase } from "../test/helpers/db.js";
import { seedCatalog } from "../src/modules/catalog/catalog.seed.js";
import { dueInstancesSql, overdueCountSql, overdueUnnotedSql, retentionVictimsSql } from "../src/modules/backups/backup-schedule.sql.js";
import { Prisma } from "../src/platform/db/index.js";

const COUNT = Number(process.argv[2] ?? 10_000);
const HOUR = 3_600_000;

async function main() {
  if (!process.env.TEST_DATABASE_URL) throw new Error("set TEST_DATABASE_URL (real PostgreSQL)");
  const t = await createTestDatabase();
  const prisma = t.db.prisma;
  await seedCatalog(prisma);
  const plan = await prisma.plan.findFirstOrThrow({ where: { service: { template: "n8n" }, slug: "starter" } });
  const now = new Date();
  const created = new Date(now.getTime() - 10 * 24 * HOUR);
  const userId = `bench-${randomUUID().slice(0, 8)}`;
  await prisma.$executeRaw`INSERT INTO "users" ("id","email","password_hash","name","updated_at")
    VALUES (${userId}, ${`${userId}@bench.invalid`}, 'x', 'bench', ${now})`;
  const ids = Array.from({ length: COUNT }, (_, i) => `bench-${i}`);
  await prisma.$executeRawUnsafe(
    `INSERT INTO "subscriptions" ("id","user_id","plan_id","current_period_start","current_period_end","updated_at")
     SELECT 'sub-' || v.id, $1, $2, $3, $4, $3 FROM unnest($5::text[]) AS v(id)`,
    userId,
    plan.id,
    now,
    new Date(now.getTime() + 30 * 24 * HOUR),
    ids,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO "instances" ("id","user_id","subscription_id","service_id","plan_id","name","k8s_name","namespace","subdomain",
                              "status","desired_state","generation","observed_generation","applied_generation","provisioned_at","created_at","updated_at")
     SELECT v.id, $1, 'sub-' || v.id, $2, $3, v.id, 'app-' || v.n, 'ns-' || (v.n / 10), v.id || '.bench.invalid', 'RUNNING', 'RUNNING', 1, 1, 1, $4, $4, $4
       FROM unnest($5::text[]) WITH ORDINALITY AS v(id, n)`,
    userId,
    plan.serviceId,
    plan.id,
    created,
    ids,
  );
  // Seven READY scheduled backups a day apart for 90 % of the fleet (the rest is overdue), plus schedule rows.
  await prisma.$executeRawUnsafe(
    `INSERT INTO "backups" ("id","instance_id","user_id","status","trigger","namespace","pvc_name","snapshot_name","snapshot_class",
                            "deadline","ready_at","created_at","updated_at")
     SELECT v.id || '-b' || d, v.id, $1, 'READY', 'scheduled', 'ns', 'pvc', v.id || '-snap-' || d, 'csi-snapshots',
            $2::timestamptz - make_interval(days => d), $2::timestamptz - make_interval(days => d), $2::timestamptz - make_interval(days => d), $2
       FROM unnest($3::text[]) WITH ORDINALITY AS v(id, n), generate_series(0, 6) AS d
      WHERE v.n % 10 <> 0`,
    userId,
    now,
    ids,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO "backup_schedules" ("instance_id","last_slot_at","updated_at") SELECT v.id, $1, $1 FROM unnest($2::text[]) AS v(id)`,
    new Date(now.getTime() - 12 * HOUR),
    ids,
  );
  await prisma.$executeRawUnsafe(`ANALYZE`);

  const statements: Array<[string, Prisma.Sql]> = [
    ["due instances (one pass, batch 50)", dueInstancesSql(now, 4 * HOUR, 50)],
    ["overdue count (summary / gauge)", Prisma.sql`SELECT ${overdueCountSql(now)} AS n`],
    ["overdue, not yet announced (batch 50)", overdueUnnotedSql(now, 50)],
    ["retention for 50 instances", retentionVictimsSql(ids.slice(1, 51))],
  ];
  console.log(`${COUNT} instances, ${await prisma.backup.count()} backups`);
  for (const [name, sql] of statements) {
    const wall: number[] = [];
    let rows = 0;
    for (let i = 0; i < 15; i++) {
      const t0 = process.hrtime.bigint();
      const r = await prisma.$queryRaw<unknown[]>(sql);
      wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
      rows = r.length;
    }
    const explain = await prisma.$queryRaw<Array<{ "QUERY PLAN": string }>>(Prisma.sql`EXPLAIN (ANALYZE, FORMAT TEXT) ${sql}`);
    const exec = explain.map((r) => r["QUERY PLAN"]).find((l) => l.startsWith("Execution Time"));
    if (process.env.BENCH_PLANS) console.log(explain.map((r) => r["QUERY PLAN"]).join("\n"));
    wall.sort((a, b) => a - b);
    console.log(`${name}: ${rows} rows, median ${wall[7]?.toFixed(1)} ms wall; server ${exec}`);
  }
  await t.drop();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
