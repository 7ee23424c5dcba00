/**
 * Kubernetes resource quantities (as metrics.k8s.io reports them) in the units the platform uses:
 * CPU in millicores, memory in MiB (the plan's `memoryMb` is rendered as `<n>Mi`).
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)(?:[eE]([+-]?\d+))?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

/** The value of a quantity in base units (cores, bytes). Throws on a malformed quantity. */
export function parseQuantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = QUANTITY.exec(q.trim());
  if (!m) throw new RangeError(`invalid quantity "${q}"`);
  const [, num, exp, suffix = ""] = m;
  const base = Number(num) * (exp ? 10 ** Number(exp) : 1);
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

export const cpuMilli = (q: string | number): number => Math.round(parseQuantity(q) * 1000);
export const memoryMb = (q: string | number): number => Math.round((parseQuantity(q) / 2 ** 20) * 10) / 10;
