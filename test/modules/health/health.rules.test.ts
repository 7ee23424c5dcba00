/** The pure health rules: one observation, the hysteresis, and the interval-to-cron conversion. */
import { describe, expect, it } from "vitest";
import type { PodStatusSummary } from "../../../src/kube/status.js";
import { type HealthState, intervalToCron, nextHealth, type ObservationInput, observe } from "../../../src/modules/health/health.rules.js";

function pods(over: Partial<PodStatusSummary> = {}): PodStatusSummary {
  return { pods: [], total: 1, readyCount: 1, restarts: 0, waitingReasons: [], phase: "Running", ready: true, ...over };
}

function input(over: Partial<ObservationInput> = {}): ObservationInput {
  return {
    clusterReadable: true,
    plan: { cpuMilli: 500, memoryMb: 512 },
    expectedWorkload: { kind: "Deployment", name: "blog" },
    workload: { kind: "Deployment", name: "blog", desiredReplicas: 1 },
    pods: pods(),
    usage: { cpuMilli: 100, memoryMb: 200 },
    previousRestartCount: 0,
    ...over,
  };
}

describe("observe", () => {
  it("HEALTHY: desired replicas ready, no new restarts, usage below 90%", () => {
    expect(observe(input())).toEqual({
      status: "HEALTHY",
      reason: "1/1 ready",
      podPhase: "Running",
      readyReplicas: 1,
      desiredReplicas: 1,
      restartCount: 0,
      cpuMilli: 100,
      memoryMb: 200,
      missing: [],
    });
  });

  it("UNKNOWN when the cluster could not be read, whatever else is known", () => {
    const o = observe(input({ clusterReadable: false, clusterError: "ECONNREFUSED" }));
    expect(o).toMatchObject({ status: "UNKNOWN", reason: "cluster could not be read: ECONNREFUSED", cpuMilli: null, missing: [] });
  });

  it("UNHEALTHY with the objects named when the workload or the Service is missing", () => {
    expect(observe(input({ workload: undefined, pods: undefined }))).toMatchObject({
      status: "UNHEALTHY",
      reason: "objects missing: Deployment/blog",
      missing: ["Deployment/blog"],
    });
    expect(observe(input({ missingObjects: ["Service/blog-svc"] }))).toMatchObject({ status: "UNHEALTHY", missing: ["Service/blog-svc"] });
  });

  it("UNHEALTHY for CrashLoopBackOff and ImagePullBackOff, even with restarts rising", () => {
    const crash = observe(input({ pods: pods({ readyCount: 0, restarts: 4, waitingReasons: ["CrashLoopBackOff"] }) }));
    expect(crash).toMatchObject({ status: "UNHEALTHY", reason: "pod waiting in CrashLoopBackOff", restartCount: 4 });
    const pull = observe(input({ pods: pods({ readyCount: 0, phase: "Pending", waitingReasons: ["ImagePullBackOff"] }) }));
    expect(pull).toMatchObject({ status: "UNHEALTHY", reason: "pod waiting in ImagePullBackOff", podPhase: "Pending" });
  });

  it("UNHEALTHY when not ready, without pods, or scaled to 0", () => {
    expect(observe(input({ pods: pods({ readyCount: 0, phase: "Pending" }) })).reason).toBe("not ready: 0/1 ready (pod phase Pending)");
    expect(observe(input({ pods: undefined })).reason).toBe("not ready: no pods (0/1 ready)");
    expect(observe(input({ workload: { kind: "Deployment", name: "blog", desiredReplicas: 0 } })).reason).toBe(
      "workload is scaled to 0 replicas",
    );
  });

  it("DEGRADED when ready but restarts rose since the previous sweep", () => {
    expect(observe(input({ pods: pods({ restarts: 3 }), previousRestartCount: 1 }))).toMatchObject({
      status: "DEGRADED",
      reason: "restarts rising (1 -> 3)",
    });
    // Same count, fewer (pod replaced), or no previous sweep: not rising.
    expect(observe(input({ pods: pods({ restarts: 3 }), previousRestartCount: 3 })).status).toBe("HEALTHY");
    expect(observe(input({ pods: pods({ restarts: 0 }), previousRestartCount: 3 })).status).toBe("HEALTHY");
    expect(observe(input({ pods: pods({ restarts: 3 }), previousRestartCount: undefined })).status).toBe("HEALTHY");
  });

  it("DEGRADED above 90% of the plan's CPU or memory limit (90% itself is fine)", () => {
    expect(observe(input({ usage: { cpuMilli: 450, memoryMb: 460.8 } })).status).toBe("HEALTHY");
    expect(observe(input({ usage: { cpuMilli: 451, memoryMb: 10 } }))).toMatchObject({
      status: "DEGRADED",
      reason: "CPU 451m of 500m limit (90%)",
    });
    expect(observe(input({ usage: { cpuMilli: 10, memoryMb: 500 } }))).toMatchObject({
      status: "DEGRADED",
      reason: "memory 500Mi of 512Mi limit (98%)",
    });
    expect(observe(input({ usage: { cpuMilli: 499, memoryMb: 500 }, pods: pods({ restarts: 1 }) })).reason).toBe(
      "restarts rising (0 -> 1); CPU 499m of 500m limit (100%); memory 500Mi of 512Mi limit (98%)",
    );
  });

  it("no usage data (metrics API absent) is not an error: judged on readiness alone", () => {
    expect(observe(input({ usage: undefined }))).toMatchObject({ status: "HEALTHY", cpuMilli: null, memoryMb: null });
  });
});

describe("nextHealth (hysteresis)", () => {
  const s = (status: HealthState["status"], candidate: HealthState["candidate"] = null, candidateCount = 0): HealthState => ({
    status,
    candidate,
    candidateCount,
  });

  it("a change needs N consecutive observations (N = 2)", () => {
    const one = nextHealth(s("HEALTHY"), "UNHEALTHY", 2);
    expect(one).toEqual(s("HEALTHY", "UNHEALTHY", 1));
    expect(nextHealth(one, "UNHEALTHY", 2)).toEqual(s("UNHEALTHY"));
  });

  it("an observation of the current status cancels a pending change", () => {
    expect(nextHealth(s("HEALTHY", "UNHEALTHY", 1), "HEALTHY", 2)).toEqual(s("HEALTHY"));
  });

  it("a different new status restarts the count", () => {
    expect(nextHealth(s("HEALTHY", "UNHEALTHY", 1), "DEGRADED", 2)).toEqual(s("HEALTHY", "DEGRADED", 1));
  });

  it("N = 3 needs three; N = 1 switches at once", () => {
    let st = s("HEALTHY");
    for (let i = 0; i < 2; i++) st = nextHealth(st, "DEGRADED", 3);
    expect(st).toEqual(s("HEALTHY", "DEGRADED", 2));
    expect(nextHealth(st, "DEGRADED", 3)).toEqual(s("DEGRADED"));
    expect(nextHealth(s("HEALTHY"), "UNHEALTHY", 1)).toEqual(s("UNHEALTHY"));
  });

  it("one unreadable sweep (a blip) keeps the status; N of them make it UNKNOWN", () => {
    const blip = nextHealth(s("HEALTHY"), "UNKNOWN", 2);
    expect(blip).toEqual(s("HEALTHY", "UNKNOWN", 1));
    expect(nextHealth(blip, "HEALTHY", 2)).toEqual(s("HEALTHY"));
    expect(nextHealth(blip, "UNKNOWN", 2)).toEqual(s("UNKNOWN"));
  });

  it("leaving UNKNOWN (no judgement) is immediate", () => {
    expect(nextHealth(s("UNKNOWN"), "HEALTHY", 2)).toEqual(s("HEALTHY"));
    expect(nextHealth(s("UNKNOWN"), "UNHEALTHY", 5)).toEqual(s("UNHEALTHY"));
  });
});

describe("intervalToCron", () => {
  it.each([
    [30_000, "*/30 * * * * *"],
    [60_000, "*/1 * * * *"],
    [5 * 60_000, "*/5 * * * *"],
    [15 * 60_000, "*/15 * * * *"],
    [3_600_000, "0 */1 * * *"],
    [6 * 3_600_000, "0 */6 * * *"],
    [86_400_000, "0 0 * * *"],
  ])("%i ms -> %s", (ms, expr) => {
    expect(intervalToCron(ms)).toBe(expr);
  });

  it.each([7 * 60_000, 45_000 + 500, 90_000, 7 * 3_600_000, 2 * 86_400_000])("%i ms is not expressible (timer instead)", (ms) => {
    expect(intervalToCron(ms)).toBeUndefined();
  });
});
