/**
 * The admin health summary and the instance gauges read instance counts kept by triggers on
 * "instances" (deltas in "instance_counts", folded after each sweep). Whatever happens to the rows —
 * bulk inserts, status and health changes one by one or in one statement, updates of other columns,
 * deletes, folds, and (on PostgreSQL) folds racing writers and each other — the counts equal a
 * GROUP BY over the instances themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedHealthFleet } from "../../../bench/lib/health-fleet.js";
import { compactInstanceCountsSql, instanceCountsSql } from "../../../src/modules/health/health.sql.js";
import { createTestContext, type TestContext } from "../../helpers/app.js";
import { usingPostgres } from "../../helpers/db.js";

let ctx: TestContext;
let ids: string[];
const prisma = () => ctx.container.db.prisma;

beforeAll(async () => {
  ctx = await createTestContext();
  const emulator = ctx.container.kube.emulator;
  if (!emulator) throw new Error("tests run against the emulator");
  ids = (await seedHealthFleet(prisma(), emulator, 30, { prefix: "cnt-" })).instanceIds;
});
afterAll(async () => {
  await ctx?.close();
});

type Counts = Record<string, number>;

/** What the summary reads. */
async function kept(): Promise<Counts> {
  const rows = await prisma().$queryRaw<Array<{ status: string; health: string; n: number }>>(instanceCountsSql);
  return Object.fromEntries(rows.map((r) => [`${r.status}/${r.health}`, r.n]));
}

/** The instances themselves. */
async function counted(): Promise<Counts> {
  const rows = await prisma().$queryRaw<Array<{ status: string; health: string; n: number }>>`
    SELECT "status"::text AS "status", "health_status"::text AS "health", count(*)::int AS "n" FROM "instances" GROUP BY 1, 2`;
  return Object.fromEntries(rows.map((r) => [`${r.status}/${r.health}`, r.n]));
}

const deltaRows = async () => prisma().instanceCount.count();

describe("instance counts kept by triggers", () => {
  it("equal counting the instances after inserts, updates, deletes and folds", async () => {
    expect(await kept()).toEqual({ "RUNNING/UNKNOWN": 30 });
    expect(await kept()).toEqual(await counted());

    // One statement changing many rows' health (what a sweep does), and other columns changing alone.
    await prisma().instance.updateMany({ where: { id: { in: ids.slice(0, 20) } }, data: { healthStatus: "HEALTHY" } });
    const before = await deltaRows();
    await prisma().instance.updateMany({ where: { id: { in: ids } }, data: { healthReason: "1/1 ready", generation: { increment: 1 } } });
    await prisma().instance.updateMany({ where: { id: { in: ids.slice(0, 20) } }, data: { healthStatus: "HEALTHY" } });
    expect(await deltaRows()).toBe(before); // no change of status or health: nothing written
    expect(await kept()).toEqual(await counted());

    // One by one, both columns, and back again within a transaction.
    await prisma().instance.update({ where: { id: ids[0] as string }, data: { status: "STOPPED", desiredState: "STOPPED" } });
    await prisma().instance.update({ where: { id: ids[1] as string }, data: { status: "SUSPENDED", healthStatus: "UNKNOWN" } });
    await prisma().$transaction([
      prisma().instance.update({ where: { id: ids[2] as string }, data: { status: "RESTARTING" } }),
      prisma().instance.update({ where: { id: ids[2] as string }, data: { status: "RUNNING", healthStatus: "DEGRADED" } }),
    ]);
    await prisma().$executeRaw`UPDATE "instances" SET "health_status" = 'UNHEALTHY' WHERE "id" = ANY(${ids.slice(25)}::text[])`;
    expect(await kept()).toEqual(await counted());

    // A fold leaves one row per pair, and the same counts.
    expect(await deltaRows()).toBeGreaterThan(6);
    await prisma().$executeRaw(compactInstanceCountsSql);
    const pairs = Object.keys(await counted()).length;
    expect(await deltaRows()).toBe(pairs);
    expect(await kept()).toEqual(await counted());
    // Folding again changes nothing.
    await prisma().$executeRaw(compactInstanceCountsSql);
    expect(await deltaRows()).toBe(pairs);

    // Deletes (the backups, schedules and records of these instances go with them).
    await prisma().instance.deleteMany({ where: { id: { in: [ids[1] as string, ...ids.slice(27)] } } });
    expect(await kept()).toEqual(await counted());
    await prisma().$executeRaw(compactInstanceCountsSql);
    expect(await kept()).toEqual(await counted());
    expect(await kept()).not.toHaveProperty("SUSPENDED/UNKNOWN"); // a pair that sums to 0 is gone
  });

  it.skipIf(!usingPostgres)("stay exact while folds race writers and each other (real PostgreSQL)", async () => {
    const other = await ctx.replica();
    const live = ids.filter((_, k) => k !== 1 && k < 27);
    const statuses = ["HEALTHY", "DEGRADED", "UNHEALTHY", "UNKNOWN"] as const;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let k = 0; k < 15; k++) {
        const id = live[(w * 7 + k) % live.length] as string;
        const db = k % 2 ? prisma() : other.db.prisma;
        await db.$transaction(async (tx) => {
          await tx.instance.update({ where: { id }, data: { healthStatus: statuses[(w + k) % 4] } });
          if (k % 3 === 0) await tx.instance.update({ where: { id }, data: { status: k % 2 ? "RUNNING" : "UPDATING" } });
        });
      }
    });
    const folds = Array.from({ length: 3 }, async (_, f) => {
      for (let k = 0; k < 10; k++) await (f % 2 ? prisma() : other.db.prisma).$executeRaw(compactInstanceCountsSql);
    });
    await Promise.all([...writers, ...folds]);
    expect(await kept()).toEqual(await counted());
    await prisma().$executeRaw(compactInstanceCountsSql);
    expect(await kept()).toEqual(await counted());
  });
});
