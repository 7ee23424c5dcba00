import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database schema (test/helpers/db.ts), so files may run in parallel.
    pool: "forks",
    maxWorkers: 2,
  },
});
