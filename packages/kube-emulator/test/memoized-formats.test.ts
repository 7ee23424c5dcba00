// The emulator's formatting on every write: quantities and timestamps are remembered per distinct input
// (these pin down that the answers are exactly what the direct computation gives), and FieldsV1's key
// order, which a real API server's structured-merge-diff sets also give.
import { describe, expect, it } from "vitest";
import { fieldSet, type FieldSet, toFieldsV1 } from "../src/managed-fields.js";
import { canonicalQuantity, formatQuantity } from "../src/quantity.js";
import { type JsonObject, k8sTime } from "../src/types.js";

/** FieldsV1 as the whole paths sorted, then inserted in that order: the definition of its key order. */
function fieldsV1ByPaths(set: FieldSet): JsonObject {
  const root: JsonObject = {};
  for (const path of [...set].sort()) {
    let cur = root;
    for (const seg of path.split("\n")) {
      cur[seg] ??= {};
      cur = cur[seg] as JsonObject;
    }
  }
  return root;
}

describe("toFieldsV1", () => {
  it("orders every level's keys by the sorted paths, keys that are prefixes of others included", () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "d",
        namespace: "n",
        labels: { app: "x", "app-name": "y", "app.kubernetes.io/name": "z", a: "1" },
        annotations: { "b-c": "1", b: "2" },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "x" } },
        template: {
          metadata: { labels: { app: "x" } },
          spec: {
            containers: [
              {
                name: "app-sidecar",
                image: "i",
                env: [
                  { name: "B", value: "1" },
                  { name: "A", value: "2" },
                ],
              },
              { name: "app", image: "i", ports: [{ containerPort: 8080 }, { containerPort: 80 }], resources: { limits: { cpu: "1" } } },
            ],
            volumes: [{ name: "data", emptyDir: {} }],
          },
        },
      },
    };
    const set = fieldSet(deployment);
    expect(set.size).toBeGreaterThan(20);
    const v1 = toFieldsV1(set);
    // JSON.stringify keeps key order, so this compares the order at every level too.
    expect(JSON.stringify(v1)).toBe(JSON.stringify(fieldsV1ByPaths(set)));
    const labels = Object.keys((v1["f:metadata"] as JsonObject)["f:labels"] as JsonObject);
    expect(labels).toEqual(["f:a", "f:app", "f:app-name", "f:app.kubernetes.io/name"]);
    const containers = Object.keys(
      ((((v1["f:spec"] as JsonObject)["f:template"] as JsonObject)["f:spec"] as JsonObject)["f:containers"] as JsonObject) ?? {},
    );
    expect(containers).toEqual(['k:{"name":"app"}', 'k:{"name":"app-sidecar"}']);
  });

  it("gives an empty object for an empty set", () => {
    expect(toFieldsV1(new Set())).toEqual({});
  });
});

describe("quantities, remembered", () => {
  it("answer the same the first time and every time after", () => {
    for (let round = 0; round < 3; round++) {
      expect(canonicalQuantity("0.5")).toBe("500m");
      expect(canonicalQuantity("1024Mi")).toBe("1Gi");
      expect(canonicalQuantity("1.5Gi")).toBe("1536Mi");
      expect(canonicalQuantity("1e3")).toBe("1e3");
      expect(canonicalQuantity("not-a-quantity")).toBe("not-a-quantity");
      expect(canonicalQuantity(3)).toBe(3);
      expect(formatQuantity(0, true)).toBe("0");
      expect(formatQuantity(512 * 2 ** 20, true)).toBe("512Mi");
      expect(formatQuantity(1536, true)).toBe("1536");
      expect(formatQuantity(0.25, false)).toBe("250m");
      expect(formatQuantity(2, false)).toBe("2");
      expect(formatQuantity(0.5, true)).toBe("500m");
    }
  });

  it("stay right past the memo's bound", () => {
    for (let i = 1; i <= 5000; i++) expect(formatQuantity(i * 2 ** 20, true)).toBe(`${i % 1024 === 0 ? `${i / 1024}Gi` : `${i}Mi`}`);
    expect(formatQuantity(3 * 2 ** 20, true)).toBe("3Mi");
  });
});

describe("k8sTime", () => {
  it("formats whole seconds, forward and back", () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(k8sTime(t)).toBe("2026-01-02T03:04:05Z");
    expect(k8sTime(t + 999)).toBe("2026-01-02T03:04:05Z");
    expect(k8sTime(t + 1000)).toBe("2026-01-02T03:04:06Z");
    expect(k8sTime(t - 1)).toBe("2026-01-02T03:04:04Z");
    expect(k8sTime(t)).toBe("2026-01-02T03:04:05Z");
    expect(k8sTime(-500)).toBe("1969-12-31T23:59:59Z");
  });
});
