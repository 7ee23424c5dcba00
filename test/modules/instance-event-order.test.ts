/**
 * An instance's timeline keeps the order its events were written in, also when several are written in
 * the same millisecond: events are ordered by (created_at, id), and event ids sort in the order they
 * were made (src/platform/ordered-id.ts). With random ids, two events of one millisecond (an upgrade's
 * UPGRADE_SNAPSHOT_READY and UPGRADE_STARTED) came back in either order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordEvent } from "../../src/modules/instances/instance-state.js";
import { orderedId } from "../../src/platform/ordered-id.js";
import { buildFundedUser, createTestContext, plansBySlug, type TestContext } from "../helpers/app.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("orderedId", () => {
  it("makes UUIDv7 ids that sort as text in the order they were made: within a millisecond, past 4,096 of them, and when the clock goes back", () => {
    const at = Date.UTC(2026, 11, 1, 12, 0, 0, 5);
    const ids = [
      ...Array.from({ length: 5_000 }, () => orderedId(at)), // more than the 12-bit counter holds
      orderedId(at - 1_000), // the clock went back a second
      orderedId(at + 1),
      orderedId(at + 60_000),
    ];
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The time part is the millisecond given (the first id of a fresh millisecond).
    const later = orderedId(at + 120_000);
    expect(Number.parseInt(later.slice(0, 8) + later.slice(9, 13), 16)).toBe(at + 120_000);
    expect(later.slice(14, 18)).toBe("7000");
  });
});

describe("an instance's timeline", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it("returns events written in the same millisecond in the order they were written", async () => {
    const u = await buildFundedUser(ctx);
    const plan = (await plansBySlug(ctx))["n8n/starter"];
    const sub = await ctx.api.post("/api/subscriptions").set(u.auth).send({ planId: plan?.id, instanceName: "ordered" });
    expect(sub.status).toBe(201);
    const id = sub.body.instance.id as string;
    // Forty events with one timestamp (a time well after the instance's own events), written one by one.
    const at = new Date(Date.now() + 3_600_000);
    for (let i = 1; i <= 40; i++) {
      await recordEvent(
        ctx.container.db.prisma,
        id,
        { type: i % 2 ? "UPGRADE_SNAPSHOT_READY" : "UPGRADE_STARTED", message: `step ${i}` },
        at,
      );
    }
    const res = await ctx.api
      .get(`/api/instances/${id}/events`)
      .query({ after: new Date(at.getTime() - 1).toISOString(), pageSize: 100 })
      .set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.data.map((e: { message: string }) => e.message)).toEqual(Array.from({ length: 40 }, (_, i) => `step ${i + 1}`));
    expect(res.body.page).toEqual({ page: 1, pageSize: 100, total: 40, totalPages: 1 });
  });
});
