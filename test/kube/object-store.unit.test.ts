/**
 * The informers' store (src/kube/informer.ts, ObjectStore): objects by namespace and name, a
 * namespace's few objects kept as pairs in one array and its many in a Map. Both forms answer alike,
 * and an object moves across the threshold (17 in a namespace) without being lost or counted twice.
 */
import { describe, expect, it } from "vitest";
import { ObjectStore } from "../../src/kube/informer.js";

const meta = (namespace: string, name: string) => ({ namespace, name });
/** Names built at run time, as a parsed object's are (not literals the compiler shares). */
const nameOf = (i: number) => ["obj", String(i)].join("-");

function fill(store: ObjectStore<string>, namespace: string, n: number): void {
  for (let i = 0; i < n; i++) store.set(meta(namespace, nameOf(i)), `${namespace}/${i}`);
}

describe("ObjectStore", () => {
  it("gets, replaces and deletes by namespace and name while a namespace holds few objects", () => {
    const store = new ObjectStore<string>();
    fill(store, "ns-a", 3);
    store.set(meta("ns-b", "obj-0"), "b0");
    expect(store.size).toBe(4);
    expect(store.get("ns-a", "obj-1")).toBe("ns-a/1");
    expect(store.get("ns-b", "obj-0")).toBe("b0");
    expect(store.get("ns-a", "obj-3")).toBeUndefined();
    expect(store.get("ns-c", "obj-0")).toBeUndefined();

    store.set(meta("ns-a", nameOf(1)), "replaced");
    expect(store.size).toBe(4);
    expect(store.get("ns-a", "obj-1")).toBe("replaced");

    store.delete(meta("ns-a", nameOf(0)));
    store.delete(meta("ns-a", "missing"));
    store.delete(meta("ns-z", "obj-0"));
    expect(store.size).toBe(3);
    expect(store.get("ns-a", "obj-0")).toBeUndefined();
    expect([...store.values()]).toEqual(["replaced", "ns-a/2", "b0"]);
  });

  it("drops a namespace once its last object is deleted, and takes it again afterwards", () => {
    const store = new ObjectStore<string>();
    store.set(meta("ns-a", "only"), "v");
    store.delete(meta("ns-a", "only"));
    expect(store.size).toBe(0);
    expect([...store.values()]).toEqual([]);
    store.set(meta("ns-a", "again"), "w");
    expect(store.size).toBe(1);
    expect(store.get("ns-a", "again")).toBe("w");
  });

  it("keeps every object, in insertion order, when a namespace grows past 16 and shrinks again", () => {
    const store = new ObjectStore<string>();
    fill(store, "ns-a", 16);
    store.set(meta("ns-b", "other"), "b");
    fill(store, "ns-a", 40); // the first 16 again (replaced, not added), then 24 more
    expect(store.size).toBe(41);
    for (let i = 0; i < 40; i++) expect(store.get("ns-a", nameOf(i))).toBe(`ns-a/${i}`);
    expect([...store.values()]).toEqual([...Array.from({ length: 40 }, (_, i) => `ns-a/${i}`), "b"]);

    for (let i = 0; i < 40; i += 2) store.delete(meta("ns-a", nameOf(i)));
    expect(store.size).toBe(21);
    expect(store.get("ns-a", "obj-2")).toBeUndefined();
    expect(store.get("ns-a", "obj-3")).toBe("ns-a/3");
    for (let i = 1; i < 40; i += 2) store.delete(meta("ns-a", nameOf(i)));
    expect(store.size).toBe(1);
    expect([...store.values()]).toEqual(["b"]);
  });

  it("keeps objects without a namespace (cluster-scoped) under the empty one", () => {
    const store = new ObjectStore<string>();
    store.set({ name: "node-1" }, "n1");
    store.set(undefined, "nameless");
    expect(store.get("", "node-1")).toBe("n1");
    expect(store.get("", "")).toBe("nameless");
    expect(store.size).toBe(2);
  });
});
