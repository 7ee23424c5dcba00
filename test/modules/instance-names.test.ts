import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DisplayNameSchema,
  K8S_NAME_MAX_LENGTH,
  K8S_NAME_PATTERN,
  tenantNamespaceFor,
  toK8sName,
  withSuffix,
} from "../../src/modules/instances/instance-names.js";

const DNS = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
// The longest object name derived from an instance name must stay a valid label (<= 63).
const LONGEST_DERIVED = ["-ingress", "-secret", "-config", "-abcdefghij", "-5f7c9d8b4-x2x9z"];

const tricky = fc.constantFrom(
  "",
  " ",
  "...",
  "-",
  "---a---",
  "../../etc/passwd",
  "'; DROP TABLE instances; --",
  "<script>alert(1)</script>",
  "$(rm -rf /)",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style input string, on purpose
  "${jndi:ldap://x}",
  "a\u0000b",
  "\u202Eevil",
  "Ünïcödé Ñame",
  "Straße",
  "Ærøskøbing",
  "我的博客",
  "блог",
  "مدونة",
  "🚀🚀🚀",
  "123",
  "9lives",
  "x".repeat(500),
  "a-".repeat(100),
  "ǅ ﬁ ① Ⅻ ｆｕｌｌ",
);

const anyName = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(".", " ", "-", "_", "a", "Z", "9", "é", "ß"), maxLength: 100 }),
  tricky,
);

describe("toK8sName", () => {
  it("always yields a DNS-1035 label within the max length (arbitrary strings, unicode, injection-like)", () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const k = toK8sName(name);
        expect(k).toMatch(DNS);
        expect(k).toMatch(K8S_NAME_PATTERN);
        expect(k.length).toBeLessThanOrEqual(K8S_NAME_MAX_LENGTH);
        for (const suffix of LONGEST_DERIVED) expect(`${k}${suffix}`.length).toBeLessThanOrEqual(63);
      }),
      { numRuns: 3000 },
    );
  });

  it("is idempotent on its own output and stable for the same input", () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const k = toK8sName(name);
        expect(toK8sName(k)).toBe(k);
        expect(toK8sName(name)).toBe(k);
      }),
    );
  });

  it("collision suffixes keep the name valid and within the max length", () => {
    fc.assert(
      fc.property(anyName, fc.integer({ min: 2, max: 9999 }), (name, n) => {
        const s = withSuffix(toK8sName(name), n);
        expect(s).toMatch(DNS);
        expect(s.length).toBeLessThanOrEqual(K8S_NAME_MAX_LENGTH);
        expect(s.endsWith(`-${n}`)).toBe(true);
      }),
    );
  });

  it.each([
    ["My Blog", "my-blog"],
    ["  Mon Café  ", "mon-cafe"],
    ["Straße", "strasse"],
    ["Ærøskøbing", "aeroskobing"],
    ["我的博客", "app"],
    ["...", "app"],
    ["123", "app-123"],
    ["n8n.prod_01", "n8n-prod-01"],
    ["'; DROP TABLE instances; --", "drop-table-instances"],
    ["A".repeat(100), "a".repeat(30)],
    [`${"a".repeat(29)}-b`, "a".repeat(29)],
  ])("%j -> %j", (name, expected) => {
    expect(toK8sName(name)).toBe(expected);
  });
});

describe("DisplayNameSchema", () => {
  it("accepts 1-63 characters of any script and trims", () => {
    expect(DisplayNameSchema.parse("  Блог 🚀 ")).toBe("Блог 🚀");
    expect(DisplayNameSchema.parse("日".repeat(63))).toBe("日".repeat(63));
    expect(DisplayNameSchema.parse("🚀".repeat(63))).toBe("🚀".repeat(63));
  });

  it("rejects empty, too long, and control characters", () => {
    for (const bad of ["", "   ", "x".repeat(64), "日".repeat(64), "a\u0000b", "a\nb", "a\u2028b", "\u0007"]) {
      expect(DisplayNameSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("whatever it accepts maps to a valid k8s name", () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const r = DisplayNameSchema.safeParse(name);
        if (r.success) {
          expect([...r.data].length).toBeGreaterThanOrEqual(1);
          expect([...r.data].length).toBeLessThanOrEqual(63);
          expect(toK8sName(r.data)).toMatch(DNS);
        }
      }),
    );
  });
});

describe("tenantNamespaceFor", () => {
  it("is user-<id> for cuid ids and always a DNS-1123 label", () => {
    expect(tenantNamespaceFor("cmabc123xyz0000abcdefghij")).toBe("user-cmabc123xyz0000abcdefghij");
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]{1,40}$/), (id) => {
        const ns = tenantNamespaceFor(id);
        expect(ns).toBe(`user-${id}`);
        expect(ns.length).toBeLessThanOrEqual(63);
        expect(ns).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }),
    );
  });
});
