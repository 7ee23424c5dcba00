/**
 * resource.Quantity parsing and formatting ("250m", "512Mi", "10Gi").
 * TEST/DEMO FIXTURE — see index.ts.
 */
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY_RE = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value in base units (cores, bytes), or undefined when it is not a quantity. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === "number") return q;
  if (typeof q !== "string") return undefined;
  const m = QUANTITY_RE.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * SUFFIX[m[3] ?? ""];
}

export const QUANTITY_MESSAGE = "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const DECIMAL_SUFFIXES: [number, string][] = [
  [18, "E"],
  [15, "P"],
  [12, "T"],
  [9, "G"],
  [6, "M"],
  [3, "k"],
  [0, ""],
  [-3, "m"],
  [-6, "u"],
  [-9, "n"],
];
const BINARY_SUFFIXES = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/**
 * The quantity as the API server stores and returns it (resource.Quantity's canonical form):
 * the format follows the written suffix (binary, decimal or exponent), the value is written with
 * the largest suffix that keeps it an integer ("4000m" -> "4", "8192Mi" -> "8Gi", "0.5" -> "500m",
 * "1536Mi" stays), values below 1024 written in binary fall back to decimal, and precision below
 * a nano is rounded up. Returns the input unchanged when it is not a quantity.
 */
export function canonicalQuantity(q: unknown): unknown {
  return typeof q === "string" ? canonicalString(q) : q;
}

/**
 * A pure function of its argument, remembered: the same quantities come back on every write (every pod
 * of a template asks for the same "500m", every quota recount formats the same totals), and the exact
 * arithmetic below is BigInt's. Bounded: past `MEMO_MAX` distinct arguments it starts over.
 */
const MEMO_MAX = 4096;
function remembered<K, V>(fn: (k: K) => V): (k: K) => V {
  const memo = new Map<K, V>();
  return (k) => {
    const hit = memo.get(k);
    if (hit !== undefined) return hit;
    const v = fn(k);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(k, v);
    return v;
  };
}

const canonicalString = remembered((q: string): string => {
  const m = QUANTITY_RE.exec(q.trim());
  if (!m) return q;
  const negative = m[1].startsWith("-");
  const num = m[1].replace(/^[+-]/, "");
  const [intPart, fracPart = ""] = num.split(".");
  const digits = BigInt(`${intPart || "0"}${fracPart}` || "0");
  let pow10 = -fracPart.length + 9; // value in nano-units = digits * 10^pow10 * 2^pow2
  let pow2 = 0;
  let format: "binary" | "decimal" | "exponent" = "decimal";
  if (m[2]) {
    pow10 += Number(m[2].slice(1));
    format = "exponent";
  } else if (m[3]?.endsWith("i")) {
    pow2 = 10 * BINARY_SUFFIXES.indexOf(m[3]);
    format = "binary";
  } else {
    pow10 += DECIMAL_SUFFIXES.find(([, s]) => s === (m[3] ?? ""))?.[0] ?? 0;
  }
  let nanos = digits * 2n ** BigInt(pow2);
  if (pow10 >= 0) nanos *= 10n ** BigInt(pow10);
  else {
    const div = 10n ** BigInt(-pow10);
    nanos = (nanos + div - 1n) / div; // rounds up, as the real server does
  }
  if (nanos === 0n) return "0";
  const sign = negative ? "-" : "";
  const NANO = 10n ** 9n;
  if (format === "binary" && nanos >= 1024n * NANO && nanos % NANO === 0n) {
    const bytes = nanos / NANO;
    for (let k = BINARY_SUFFIXES.length - 1; k >= 0; k--) {
      const f = 1024n ** BigInt(k);
      if (bytes % f === 0n) return `${sign}${bytes / f}${BINARY_SUFFIXES[k]}`;
    }
  }
  for (const [exp, suffix] of DECIMAL_SUFFIXES) {
    const f = 10n ** BigInt(exp + 9);
    if (nanos % f !== 0n) continue;
    if (format === "exponent") return `${sign}${nanos / f}${exp === 0 ? "" : `e${exp}`}`;
    return `${sign}${nanos / f}${suffix}`;
  }
  return q;
});

/** Formats a base-unit value (cores or bytes) canonically: binary when `bytes`, else decimal. */
export function formatQuantity(value: number, bytes: boolean): string {
  return bytes ? formatBytes(value) : formatDecimal(value);
}

const formatBytes = remembered((value: number): string => {
  if (value === 0) return "0";
  if (Number.isInteger(value)) return canonicalString(`${value / 1024}Ki`).replace(/^0Ki$/, "0");
  return formatDecimal(value);
});

const formatDecimal = remembered((value: number): string => (value === 0 ? "0" : canonicalString(`${Math.round(value * 1e9)}n`)));
