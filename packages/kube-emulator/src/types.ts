/**
 * Shared types and small pure helpers of the Kubernetes API emulator.
 *
 * TEST/DEMO FIXTURE: the emulator imitates a Kubernetes API server for tests, benchmarks and the
 * zero-setup local mode. It is not a cluster and must never be used as a production target.
 */
import { createHash } from "node:crypto";

/** A JSON value as the API server reads and writes it. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json | undefined;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: JsonObject;
  subresource?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
}

/**
 * A stored object. The store treats stored objects as immutable: every write replaces the object,
 * so readers (LIST of 10,000 items, watchers) can share references without defensive copies.
 */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual(ra[k], rb[k])) return false;
  return true;
}

/** Deep copy of a JSON value (objects from the store are frozen by convention; copy before editing). */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * `compute(key)` once per key object, kept while the key lives. For values derived from a stored object
 * (or a part of one): the store never mutates an object after writing it (store.ts), so they cannot go stale.
 */
export function derivedOnce<K extends object, V>(cache: WeakMap<K, V>, key: K, compute: (key: K) => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = compute(key);
    cache.set(key, v);
  }
  return v;
}

/** JSON with sorted keys, so that hashes of equal objects are equal. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(",")}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

// Kubernetes' "safe" alphabet for generated name suffixes (no vowels, no look-alike characters).
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** A short deterministic hash in the Kubernetes safe alphabet (like pod-template-hash). */
export function safeHash(input: string, length = 10): string {
  const digest = createHash("sha256").update(input).digest();
  let out = "";
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[digest[i] % SAFE_ALPHABET.length];
  return out;
}

/** Deterministic pseudo-random generator (mulberry32) so that seeded runs are reproducible. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  suffix(length = 5): string {
    let out = "";
    for (let i = 0; i < length; i++) out += SAFE_ALPHABET[Math.floor(this.next() * SAFE_ALPHABET.length)];
    return out;
  }
}

/** Kubernetes timestamps have second precision in metadata ("2024-01-01T00:00:00Z"). */
export function k8sTime(ms: number): string {
  // Whole seconds, so every write within one second stamps the same string: formatted once per second.
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastTime = `${new Date(second * 1000).toISOString().slice(0, 19)}Z`;
    lastSecond = second;
  }
  return lastTime;
}
let lastSecond = Number.NaN;
let lastTime = "";

export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  debug?(obj: unknown, msg?: string): void;
  error?(obj: unknown, msg?: string): void;
}

export const silentLogger: Logger = { info: () => {}, warn: () => {} };
