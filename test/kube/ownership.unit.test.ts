/**
 * Drift verdicts against an observation that may lag behind the reconciler's last apply (an
 * informer's cache, or a LIST served before the apply): older than the recorded resourceVersion is
 * "behind" — never drift, never missing.
 */
import { describe, expect, it } from "vitest";
import { compactResourceVersion, compareResourceVersions, judgeAbsent, judgeStamp, resourceVersionText } from "../../src/kube/ownership.js";

const observed = (resourceVersion: string | undefined, hash: string) => ({ resourceVersion, appliedHash: () => hash });

describe("judgeStamp / judgeAbsent", () => {
  it("orders etcd resourceVersions numerically (not as text) and cannot tell for anything else", () => {
    expect(compareResourceVersions("9", "10")).toBeLessThan(0);
    expect(compareResourceVersions("100", "100")).toBe(0);
    expect(compareResourceVersions("12345678901234567890", "9")).toBeGreaterThan(0);
    expect(compareResourceVersions("abc", "10")).toBeUndefined();
    expect(compareResourceVersions(undefined, "10")).toBeUndefined();
  });

  it("keeps a canonical integer resourceVersion as a number and gives back exactly the string it came from", () => {
    expect(compactResourceVersion("123456")).toBe(123456);
    expect(compactResourceVersion("0")).toBe(0);
    expect(compactResourceVersion("9007199254740991")).toBe(9007199254740991);
    // Anything a number would not give back as written stays a string.
    for (const rv of ["", "0123", "1e3", "0x10", " 12", "-5", "9007199254740993", "12345678901234567890", "abc", "1.5"]) {
      expect(compactResourceVersion(rv)).toBe(rv);
    }
    expect(compactResourceVersion(undefined)).toBeUndefined();
    for (const rv of ["123456", "0", "9007199254740991", "0123", "9007199254740993", "abc", "", undefined]) {
      expect(resourceVersionText(compactResourceVersion(rv))).toBe(rv);
    }
  });

  it("holds when the observed object is the one we applied, or carries the same fields since", () => {
    expect(judgeStamp("10 h1", observed("10", "other"))).toBe("holds");
    expect(judgeStamp("10 h1", observed("12", "h1"))).toBe("holds");
  });

  it("changed when a newer version lost fields we applied", () => {
    expect(judgeStamp("10 h1", observed("12", "h2"))).toBe("changed");
  });

  it("behind when the observation is older than our apply, whatever its fields", () => {
    expect(judgeStamp("10 h1", observed("9", "h0"))).toBe("behind");
  });

  it("an absent object is missing only if the observation is at least as new as our apply", () => {
    expect(judgeAbsent("10 h1", "9")).toBe("behind");
    expect(judgeAbsent("10 h1", "10")).toBe("missing");
    expect(judgeAbsent("10 h1", "11")).toBe("missing");
    // Unknown order (no resourceVersion): as a fresh LIST would, missing.
    expect(judgeAbsent("10 h1", undefined)).toBe("missing");
    expect(judgeAbsent(" h1", "5")).toBe("missing");
  });
});
