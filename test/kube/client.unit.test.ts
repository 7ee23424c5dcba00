import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException } from "@kubernetes/client-node";
import type { LiveDeployment, LivePod, LiveStatefulSet } from "../../src/kube/objects.js";
import { describe, expect, it, vi } from "vitest";
import { createKubeConfig } from "../../src/kube/client.js";
import {
  KubeConflictError,
  type KubeError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeUnavailableError,
  toKubeError,
} from "../../src/kube/kube-errors.js";
import { cpuMilli, memoryMb, parseQuantity } from "../../src/kube/quantity.js";
import { backoffDelayMs, retryDelayMs, withRetry } from "../../src/kube/retry.js";
import {
  deploymentRolloutState,
  newestRunningPod,
  statefulSetRolloutState,
  summarizePods,
  summarizePodsBy,
} from "../../src/kube/status.js";

const status = (code: number, reason: string, message: string, causes?: object[]) =>
  JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
    ...(causes ? { details: { causes } } : {}),
  });
const apiError = (code: number, body: string, headers: Record<string, string> = {}) =>
  new ApiException(code, "Unsuccessful HTTP Request", body, headers);

describe("error mapping", () => {
  it.each([
    [404, "NotFound", KubeNotFoundError, false],
    [409, "AlreadyExists", KubeConflictError, false],
    [409, "Conflict", KubeConflictError, false],
    [422, "Invalid", KubeInvalidError, false],
    [400, "BadRequest", KubeInvalidError, false],
    [403, "Forbidden", KubeForbiddenError, false],
    [401, "Unauthorized", KubeForbiddenError, false],
    [429, "TooManyRequests", KubeUnavailableError, true],
    [500, "InternalError", KubeUnavailableError, true],
    [503, "ServiceUnavailable", KubeUnavailableError, true],
    [504, "Timeout", KubeUnavailableError, true],
  ] as const)("HTTP %i %s", (code, reason, cls, transient) => {
    const err = toKubeError(apiError(code, status(code, reason, `the thing ${reason}`)), "get v1 Pod ns/x");
    expect(err).toBeInstanceOf(cls);
    const e = err as InstanceType<typeof cls>;
    expect(e.transient).toBe(transient);
    expect(e.statusCode).toBe(code);
    expect(e.reason).toBe(reason);
    expect(e.message).toContain(`the thing ${reason}`);
    expect(e.message).toContain("get v1 Pod ns/x");
    expect(e.cause).toBeInstanceOf(ApiException);
  });

  it("parses 422 causes from the Status body (a JSON string)", () => {
    const body = status(422, "Invalid", 'Deployment.apps "x" is invalid', [
      { reason: "FieldValueRequired", message: "Required value", field: "spec.selector" },
      { reason: "FieldValueInvalid", message: "Invalid value: -1", field: "spec.replicas" },
    ]);
    const err = toKubeError(apiError(422, body)) as KubeInvalidError;
    expect(err.causes).toEqual([
      { reason: "FieldValueRequired", message: "Required value", field: "spec.selector" },
      { reason: "FieldValueInvalid", message: "Invalid value: -1", field: "spec.replicas" },
    ]);
  });

  it("tolerates a non-JSON body", () => {
    const err = toKubeError(apiError(502, "<html>bad gateway</html>")) as KubeUnavailableError;
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect(err.reason).toBeUndefined();
  });

  it("maps connection failures and timeouts to KubeUnavailableError", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED", type: "system" });
    expect(toKubeError(refused)).toBeInstanceOf(KubeUnavailableError);
    const aborted = Object.assign(new Error("The user aborted a request."), { name: "AbortError", type: "aborted" });
    const t = toKubeError(aborted) as KubeUnavailableError;
    expect(t).toBeInstanceOf(KubeUnavailableError);
    expect(t.reason).toBe("Timeout");
    const nested = new Error("request failed", { cause: Object.assign(new Error("reset"), { code: "ECONNRESET" }) });
    expect(toKubeError(nested)).toBeInstanceOf(KubeUnavailableError);
  });

  it("leaves programming errors alone", () => {
    const bug = new TypeError("x is undefined");
    expect(toKubeError(bug)).toBe(bug);
  });
});

describe("retry", () => {
  const opts = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

  it("retries transient failures with a bound, then throws the mapped error", async () => {
    const fn = vi.fn(async () => {
      throw apiError(503, status(503, "ServiceUnavailable", "down"));
    });
    const onRetry = vi.fn();
    const err = await withRetry("op", opts, fn, onRetry).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeUnavailableError);
    expect((err as KubeUnavailableError).attempts).toBe(4);
    expect(fn).toHaveBeenCalledTimes(4);
    expect(onRetry).toHaveBeenCalledTimes(3);
  });

  it("does not retry permanent failures", async () => {
    const fn = vi.fn(async () => {
      throw apiError(422, status(422, "Invalid", "nope"));
    });
    await expect(withRetry("op", opts, fn)).rejects.toBeInstanceOf(KubeInvalidError);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it("succeeds after transient failures", async () => {
    let n = 0;
    const result = await withRetry("op", opts, async () => {
      if (++n < 3) throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
      return "ok";
    });
    expect(result).toBe("ok");
    expect(n).toBe(3);
  });

  it("backs off exponentially with jitter, capped", () => {
    const o = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelayMs(1, o, () => 0)).toBe(50);
    expect(backoffDelayMs(1, o, () => 1)).toBe(100);
    expect(backoffDelayMs(3, o, () => 1)).toBe(400);
    expect(backoffDelayMs(3, o, () => 0)).toBe(200);
    expect(backoffDelayMs(10, o, () => 1)).toBe(1000);
  });

  it("waits as long as the server's Retry-After asks, past the backoff cap, up to 30 s", () => {
    const o = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 5_000 };
    const throttled = (retryAfter?: string) =>
      toKubeError(apiError(429, status(429, "TooManyRequests", "slow down"), retryAfter ? { "retry-after": retryAfter } : {})) as KubeError;
    expect(retryDelayMs(1, o, throttled("20"), () => 1)).toBe(20_000);
    expect(retryDelayMs(1, o, throttled("120"), () => 1)).toBe(30_000);
    expect(retryDelayMs(1, { ...o, maxRetryAfterMs: 60_000 }, throttled("120"), () => 1)).toBe(60_000);
    // A Retry-After shorter than the backoff does not shorten it; none at all leaves the backoff.
    expect(retryDelayMs(3, o, throttled("0"), () => 1)).toBe(400);
    expect(retryDelayMs(3, o, throttled(), () => 1)).toBe(400);
  });
});

describe("rollout status", () => {
  const dep = (spec: number, status: LiveDeployment["status"], generation = 2): LiveDeployment => ({
    metadata: { name: "d", generation },
    spec: { replicas: spec, selector: {}, template: {} },
    status,
  });

  it("follows kubectl rollout status for Deployments", () => {
    expect(deploymentRolloutState(dep(1, { observedGeneration: 1 })).done).toBe(false);
    expect(deploymentRolloutState(dep(1, { observedGeneration: 2, replicas: 1, updatedReplicas: 0 })).message).toMatch(/0 of 1 updated/);
    expect(
      deploymentRolloutState(dep(1, { observedGeneration: 2, replicas: 2, updatedReplicas: 1, availableReplicas: 1 })).message,
    ).toMatch(/1 old replicas are pending termination/);
    expect(deploymentRolloutState(dep(1, { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 0 })).done).toBe(
      false,
    );
    expect(deploymentRolloutState(dep(1, { observedGeneration: 2, replicas: 1, updatedReplicas: 1, availableReplicas: 1 })).done).toBe(
      true,
    );
    expect(deploymentRolloutState(dep(0, { observedGeneration: 2 })).done).toBe(true);
    const stuck = deploymentRolloutState(
      dep(1, { observedGeneration: 2, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }] }),
    );
    expect(stuck).toMatchObject({ done: false, failed: true });
  });

  it("follows kubectl rollout status for StatefulSets", () => {
    const sts = (status: LiveStatefulSet["status"]): LiveStatefulSet => ({
      metadata: { name: "s", generation: 3 },
      spec: { replicas: 1, selector: {}, serviceName: "s", template: {} },
      status,
    });
    expect(statefulSetRolloutState(sts({ replicas: 1, observedGeneration: 2 })).done).toBe(false);
    expect(statefulSetRolloutState(sts({ replicas: 1, observedGeneration: 3, readyReplicas: 0 })).done).toBe(false);
    expect(
      statefulSetRolloutState(sts({ replicas: 1, observedGeneration: 3, readyReplicas: 1, currentRevision: "a", updateRevision: "b" }))
        .done,
    ).toBe(false);
    expect(
      statefulSetRolloutState(sts({ replicas: 1, observedGeneration: 3, readyReplicas: 1, currentRevision: "b", updateRevision: "b" }))
        .done,
    ).toBe(true);
  });
});

describe("pod summaries", () => {
  const pod = (
    name: string,
    created: string,
    status: LivePod["status"],
    labels: Record<string, string> = {},
    deleting = false,
  ): LivePod => ({
    metadata: {
      name,
      namespace: "ns",
      creationTimestamp: created,
      labels,
      ...(deleting ? { deletionTimestamp: created } : {}),
    },
    status,
  });

  it("reports phase, readiness, restarts and waiting reasons, newest pod first", () => {
    const s = summarizePods([
      pod("old", "2025-01-01T00:00:00Z", { phase: "Running", conditions: [{ type: "Ready", status: "True" }] }, {}, true),
      pod("new", "2025-01-01T00:01:00Z", {
        phase: "Pending",
        containerStatuses: [
          {
            name: "c",
            image: "i",
            imageID: "",
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: "CrashLoopBackOff" } },
            lastState: { terminated: { exitCode: 1, reason: "Error" } },
          },
        ],
      }),
    ]);
    expect(s.total).toBe(2);
    expect(s.newest?.name).toBe("new");
    expect(s.phase).toBe("Pending");
    expect(s.readyCount).toBe(0);
    expect(s.ready).toBe(false);
    expect(s.restarts).toBe(4);
    expect(s.waitingReasons).toEqual(["CrashLoopBackOff"]);
    expect(s.newest?.lastTerminationReasons).toEqual(["Error"]);
  });

  it("groups a fleet-wide list by instance id", () => {
    const ready: LivePod["status"] = { phase: "Running", conditions: [{ type: "Ready", status: "True" }] };
    const groups = summarizePodsBy(
      [
        pod("a", "2025-01-01T00:00:00Z", ready, { "minispod.io/instance-id": "i1" }),
        pod("b", "2025-01-01T00:00:00Z", { phase: "Pending" }, { "minispod.io/instance-id": "i2" }),
        pod("c", "2025-01-01T00:00:00Z", ready),
      ],
      "minispod.io/instance-id",
    );
    expect([...groups.keys()]).toEqual(["i1", "i2"]);
    expect(groups.get("i1")?.ready).toBe(true);
    expect(groups.get("i2")?.ready).toBe(false);
  });
});

describe("quantities", () => {
  it("converts metrics quantities to millicores and MiB", () => {
    expect(cpuMilli("250m")).toBe(250);
    expect(cpuMilli("1")).toBe(1000);
    expect(cpuMilli("123456789n")).toBe(123);
    expect(cpuMilli("1500u")).toBe(2);
    expect(memoryMb("512Mi")).toBe(512);
    expect(memoryMb("1Gi")).toBe(1024);
    expect(memoryMb("204800Ki")).toBe(200);
    expect(memoryMb("1048576")).toBe(1);
    expect(parseQuantity("1e3")).toBe(1000);
    expect(() => parseQuantity("abc")).toThrow(RangeError);
  });
});

describe("createKubeConfig", () => {
  const yaml = (server: string) => `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "${server}"}
- name: c2
  cluster: {server: "https://other:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: one
  context: {cluster: c1, user: u}
- name: two
  context: {cluster: c2, user: u}
current-context: one
`;

  it("loads the emulator's yaml in emulated mode and requires it", () => {
    const kc = createKubeConfig({ mode: "emulated", kubeconfigYaml: yaml("http://127.0.0.1:1234") });
    expect(kc.getCurrentCluster()?.server).toBe("http://127.0.0.1:1234");
    expect(() => createKubeConfig({ mode: "emulated" })).toThrow(/kubeconfigYaml/);
  });

  it("loads an explicit path, a chosen context, and returns independent configs", () => {
    const dir = mkdtempSync(join(tmpdir(), "kc-"));
    const path = join(dir, "config");
    writeFileSync(path, yaml("https://one:6443"));
    const a = createKubeConfig({ mode: "cluster", kubeconfigPath: path });
    const b = createKubeConfig({ mode: "cluster", kubeconfigPath: path, context: "two", skipTlsVerify: true });
    expect(a.getCurrentCluster()?.server).toBe("https://one:6443");
    expect(a.getCurrentCluster()?.skipTLSVerify).toBeFalsy();
    expect(b.getCurrentCluster()).toMatchObject({ server: "https://other:6443", skipTLSVerify: true });
    expect(() => createKubeConfig({ mode: "cluster", kubeconfigPath: join(dir, "missing") })).toThrow(/not found/);
  });

  it("requireVerifiedTls (production) refuses plain http, insecure-skip-tls-verify and skipTlsVerify", () => {
    const dir = mkdtempSync(join(tmpdir(), "kc-"));
    const file = (name: string, content: string) => {
      writeFileSync(join(dir, name), content);
      return join(dir, name);
    };
    const https = file("https", yaml("https://one:6443"));
    expect(createKubeConfig({ mode: "cluster", kubeconfigPath: https, requireVerifiedTls: true }).getCurrentCluster()?.server).toBe(
      "https://one:6443",
    );
    expect(() =>
      createKubeConfig({ mode: "cluster", kubeconfigPath: file("http", yaml("http://127.0.0.1:1234")), requireVerifiedTls: true }),
    ).toThrow('the Kubernetes API server must be https:// with a verified certificate (kubeconfig cluster "c1")');
    const insecure = file(
      "insecure",
      yaml("https://one:6443").replace('{server: "https://one:6443"}', '{server: "https://one:6443", insecure-skip-tls-verify: true}'),
    );
    expect(() => createKubeConfig({ mode: "cluster", kubeconfigPath: insecure, requireVerifiedTls: true })).toThrow(
      'kubeconfig cluster "c1" skips TLS verification (insecure-skip-tls-verify); give it the API server\'s CA instead',
    );
    expect(createKubeConfig({ mode: "cluster", kubeconfigPath: insecure }).getCurrentCluster()?.skipTLSVerify).toBe(true);
    expect(() => createKubeConfig({ mode: "cluster", kubeconfigPath: https, skipTlsVerify: true, requireVerifiedTls: true })).toThrow(
      "TLS verification of the Kubernetes API server cannot be skipped here (K8S_SKIP_TLS_VERIFY)",
    );
  });

  it("falls back to $KUBECONFIG, then fails clearly instead of defaulting to localhost:8080", () => {
    const dir = mkdtempSync(join(tmpdir(), "kc-"));
    const path = join(dir, "config");
    writeFileSync(path, yaml("https://env:6443"));
    expect(createKubeConfig({ mode: "cluster" }, { KUBECONFIG: path, HOME: dir }).getCurrentCluster()?.server).toBe("https://env:6443");
    expect(() => createKubeConfig({ mode: "cluster" }, { HOME: dir })).toThrow(/no Kubernetes configuration/);
  });
});

describe("newestRunningPod", () => {
  const pod = (name: string, created: string, phase: NonNullable<LivePod["status"]>["phase"] = "Running", deleting = false): LivePod => ({
    metadata: { name, creationTimestamp: created, ...(deleting ? { deletionTimestamp: "2026-11-30T12:00:00Z" } : {}) },
    status: { phase },
  });

  it("picks the newest Running pod by time, not by the text of its timestamp", () => {
    // RFC 3339 text does not sort as time: an offset, or fractional seconds ("." sorts before "Z").
    const early = pod("early", "2026-11-27T11:00:00+02:00"); // 09:00 UTC
    const mid = pod("mid", "2026-11-27T10:00:00Z");
    const late = pod("late", "2026-11-27T10:00:00.5Z");
    expect(String(early.metadata?.creationTimestamp) > String(mid.metadata?.creationTimestamp)).toBe(true);
    expect(String(late.metadata?.creationTimestamp) < String(mid.metadata?.creationTimestamp)).toBe(true);
    expect(newestRunningPod([early, mid])?.metadata?.name).toBe("mid");
    expect(newestRunningPod([mid, early])?.metadata?.name).toBe("mid");
    expect(newestRunningPod([late, mid, early])?.metadata?.name).toBe("late");
    expect(newestRunningPod([mid, late])?.metadata?.name).toBe("late");
  });

  it("skips pods that are not Running or are being deleted", () => {
    const old = pod("old", "2026-11-27T10:00:00Z");
    const pending = pod("pending", "2026-11-30T10:00:00Z", "Pending");
    const leaving = pod("leaving", "2026-11-30T11:00:00Z", "Running", true);
    expect(newestRunningPod([old, pending, leaving])?.metadata?.name).toBe("old");
    expect(newestRunningPod([pending])).toBeUndefined();
  });
});
