// Global test setup. Database preparation happens per test file (test/helpers/db.ts).
export default function setup(): void {
  process.env.NODE_ENV ??= "test";
  process.env.LOG_LEVEL ??= "silent";
}
