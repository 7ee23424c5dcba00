// Checks one httpYac run (`httpyac send <file> --all --json`, on stdin) of a REST Client-syntax
// request file: every named request in the file was sent and answered 2xx, except the answers
// listed as `name=status` arguments (a request the file documents as expected to fail in sequence).
// Usage: httpyac send rest/x.rest --all --json ... | node scripts/rest-client-check.mjs rest/x.rest [name=status ...]
import { readFileSync } from "node:fs";

const [file, ...allowed] = process.argv.slice(2);
const expected = new Map(allowed.map((a) => a.split("=")).map(([n, s]) => [n, Number(s)]));
const names = [...readFileSync(file, "utf8").matchAll(/^# @name (\S+)\s*$/gm)].map((m) => m[1]);
const run = JSON.parse(readFileSync(0, "utf8"));
const problems = [];
const seen = new Map(run.requests.map((r) => [r.name, r]));
for (const name of names) {
  const r = seen.get(name);
  const status = r?.response?.statusCode;
  const want = expected.get(name);
  const ok = want === undefined ? status >= 200 && status < 300 : status === want;
  const why = r ? (status ?? (r.testResults ?? []).map((t) => t.message).join("; ")) : "not sent";
  console.log(`  ${ok ? "ok  " : "FAIL"} ${name}: ${why}${want ? ` (expected ${want})` : ""}`);
  if (!ok) problems.push(name);
}
if (problems.length) {
  console.error(`${file}: ${problems.length} request(s) failed: ${problems.join(", ")}`);
  process.exit(1);
}
