/**
 * The informers' string pool (src/kube/string-pool.ts): equal values come back equal, repeated values
 * take one entry, and the pool never holds more than its bound.
 */
import { describe, expect, it } from "vitest";
import { StringPool } from "../../src/kube/string-pool.js";

describe("StringPool", () => {
  it("keeps one entry per distinct value and hands back an equal string", () => {
    const pool = new StringPool(10);
    // Built at run time, as a parsed object's strings are (not one literal the compiler shares).
    const a = ["tenant", "abc"].join("-");
    const b = ["tenant", "abc"].join("-");
    expect(pool.intern(a)).toBe("tenant-abc");
    expect(pool.intern(b)).toBe("tenant-abc");
    expect(pool.size).toBe(1);
    expect(pool.intern("tenant-def")).toBe("tenant-def");
    expect(pool.size).toBe(2);
  });

  it("passes undefined through without an entry", () => {
    const pool = new StringPool(10);
    expect(pool.internOptional(undefined)).toBeUndefined();
    expect(pool.internOptional("x")).toBe("x");
    expect(pool.size).toBe(1);
  });

  it("looks a value up with shared() without adding it", () => {
    const pool = new StringPool(10);
    pool.intern("default-deny");
    expect(pool.shared(["default", "deny"].join("-"))).toBe("default-deny");
    expect(pool.shared("app-1-config")).toBe("app-1-config");
    expect(pool.size).toBe(1);
  });

  it("starts over past its bound instead of growing", () => {
    const pool = new StringPool(3);
    for (const v of ["a", "b", "c"]) pool.intern(v);
    expect(pool.size).toBe(3);
    // A repeated value never counts against the bound.
    expect(pool.intern("b")).toBe("b");
    expect(pool.size).toBe(3);
    // The fourth distinct value: the pool is cleared and holds only it.
    expect(pool.intern("d")).toBe("d");
    expect(pool.size).toBe(1);
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      pool.intern(`v${i}`);
      sizes.push(pool.size);
    }
    expect(Math.max(...sizes)).toBe(3);
  });
});
