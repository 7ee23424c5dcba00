/**
 * The health statistics read a per-timestamp rollup kept by triggers on health_checks. Whatever
 * happens to the records — out-of-order inserts that change which record precedes which, retention
 * batches that split a sweep, updates, an instance deleted with its records — the statistics from the
 * rollup equal the same statistics aggregated from the records themselves (the pre-rollup SQL, below).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedHealthFleet } from "../../../bench/lib/health-fleet.js";
import { Prisma } from "../../../src/platform/db/index.js";
import { type HealthStatsRow, healthStatsSql } from "../../../src/modules/health/health.sql.js";
import { createTestContext, type TestContext } from "../../helpers/app.js";

/** The statistics straight from the records: the query the endpoint ran before the rollup. */
function fromRecordsSql(from: Date, to: Date, bucketSeconds: number): Prisma.Sql {
  return Prisma.sql`WITH b AS (
         SELECT gs AS "start"
           FROM generate_series(${from}::timestamptz, ${to}::timestamptz - interval '1 millisecond', make_interval(secs => ${bucketSeconds}::int)) AS gs
       ), c AS (
         SELECT date_bin(make_interval(secs => ${bucketSeconds}::int), h."checked_at", ${from}::timestamptz) AS "bucket",
                h."status", h."cpu_milli", h."memory_mb",
                (h."status" = 'UNHEALTHY' AND (
                   SELECT p."status" FROM "health_checks" p
                    WHERE p."instance_id" = h."instance_id" AND p."checked_at" < h."checked_at" AND p."status" <> 'UNKNOWN'
                    ORDER BY p."checked_at" DESC LIMIT 1) IS DISTINCT FROM 'UNHEALTHY') AS "incident"
           FROM "health_checks" h
          WHERE h."checked_at" >= ${from}::timestamptz AND h."checked_at" < ${to}::timestamptz
       )
       SELECT b."start",
              count(c."status")::int AS "checks",
              count(*) FILTER (WHERE c."status" = 'HEALTHY')::int AS "healthy",
              count(*) FILTER (WHERE c."status" = 'DEGRADED')::int AS "degraded",
              count(*) FILTER (WHERE c."status" = 'UNHEALTHY')::int AS "unhealthy",
              count(*) FILTER (WHERE c."status" = 'UNKNOWN')::int AS "unknown",
              sum(c."cpu_milli")::float8 AS "cpu_sum", count(c."cpu_milli")::int AS "cpu_n", max(c."cpu_milli") AS "cpu_peak",
              sum(c."memory_mb")::float8 AS "mem_sum", count(c."memory_mb")::int AS "mem_n", max(c."memory_mb") AS "mem_peak",
              count(*) FILTER (WHERE c."incident")::int AS "incidents"
         FROM b LEFT JOIN c ON c."bucket" = b."start"
        GROUP BY b."start" ORDER BY b."start"`;
}

let ctx: TestContext;
let ids: string[];
const T0 = Date.parse("2026-04-01T00:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
type Status = "HEALTHY" | "DEGRADED" | "UNHEALTHY" | "UNKNOWN";

beforeAll(async () => {
  ctx = await createTestContext();
  const emulator = ctx.container.kube.emulator;
  if (!emulator) throw new Error("tests run against the emulator");
  ids = (await seedHealthFleet(ctx.container.db.prisma, emulator, 4, { prefix: "roll-" })).instanceIds;
});
afterAll(async () => {
  await ctx?.close();
});

/** Inserts one statement of records: [instance index, minute, status, cpu]. */
async function insert(rows: Array<[number, number, Status, number | null]>): Promise<void> {
  await ctx.container.db.prisma.healthCheck.createMany({
    data: rows.map(([i, m, status, cpu]) => ({
      instanceId: ids[i] as string,
      status,
      cpuMilli: cpu,
      memoryMb: cpu === null ? null : cpu * 2,
      checkedAt: at(m),
    })),
  });
}

const RANGES: Array<[number, number, number]> = [
  [0, 120, 300], // 2 hours in 5-minute buckets
  [0, 120, 3600],
  [7, 61, 60], // an origin that cuts sweeps apart from the bucket grid
  [30, 31, 60],
  [-600, 600, 86_400],
];

async function expectRollupEqualsRecords(when: string): Promise<void> {
  const prisma = ctx.container.db.prisma;
  for (const [a, b, w] of RANGES) {
    const viaRollup = await prisma.$queryRaw<HealthStatsRow[]>(healthStatsSql(at(a), at(b), w));
    const viaRecords = await prisma.$queryRaw<HealthStatsRow[]>(fromRecordsSql(at(a), at(b), w));
    expect(viaRollup, `${when}: [${a}, ${b}) by ${w}s`).toEqual(viaRecords);
  }
}

describe("health statistics from the rollup equal the statistics from the records", () => {
  it("after sweeps in order, including UNKNOWN records between UNHEALTHY ones", async () => {
    const sweep = (m: number, statuses: Status[]) => insert(statuses.map((s, i) => [i, m, s, s === "UNKNOWN" ? null : 100 + m + i]));
    await sweep(10, ["HEALTHY", "HEALTHY", "UNHEALTHY", "DEGRADED"]);
    await sweep(15, ["UNHEALTHY", "HEALTHY", "UNHEALTHY", "UNKNOWN"]);
    await sweep(20, ["UNKNOWN", "UNHEALTHY", "UNHEALTHY", "UNHEALTHY"]);
    await sweep(25, ["UNHEALTHY", "UNHEALTHY", "HEALTHY", "UNHEALTHY"]);
    await sweep(30, ["HEALTHY", "DEGRADED", "UNHEALTHY", "HEALTHY"]);
    const incidents = await ctx.container.db.prisma.healthCheckRollup.aggregate({ _sum: { incidents: true, checks: true } });
    expect(incidents._sum).toEqual({ incidents: 5, checks: 20 });
    await expectRollupEqualsRecords("in order");
  });

  it("after out-of-order inserts that change which record precedes another", async () => {
    // Between instance 0's UNHEALTHY at 15 and UNKNOWN at 20, then before its first record.
    await insert([
      [0, 12, "UNHEALTHY", 7],
      [1, 27, "HEALTHY", null],
    ]);
    await insert([
      [0, 5, "HEALTHY", 1],
      [2, 9, "UNHEALTHY", 3],
      [3, 30, "UNHEALTHY", 4], // the same timestamp as instance 3's HEALTHY at 30
    ]);
    await expectRollupEqualsRecords("out of order");
  });

  it("after retention batches that split a sweep, an update, and an instance deleted with its records", async () => {
    const prisma = ctx.container.db.prisma;
    // Like the health loop's prune: a batch by id, ordered by time, that stops in the middle of a sweep.
    await prisma.$executeRaw`DELETE FROM "health_checks" WHERE "id" IN (
      SELECT "id" FROM "health_checks" WHERE "checked_at" < ${at(16)} ORDER BY "checked_at", "id" LIMIT 6)`;
    await expectRollupEqualsRecords("after a split prune batch");
    await prisma.$executeRaw`DELETE FROM "health_checks" WHERE "checked_at" < ${at(16)}`;
    await expectRollupEqualsRecords("after the rest of the prune");
    await prisma.$executeRaw`UPDATE "health_checks" SET "status" = 'HEALTHY' WHERE "checked_at" = ${at(20)} AND "instance_id" = ${ids[1]}`;
    await expectRollupEqualsRecords("after an update");
    await prisma.instance.delete({ where: { id: ids[3] } });
    await expectRollupEqualsRecords("after an instance was deleted");
    const left = await prisma.healthCheck.count();
    const rolled = await prisma.healthCheckRollup.aggregate({ _sum: { checks: true } });
    expect(rolled._sum.checks).toBe(left);
  });
});
