import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The workspace packages' own tests (packages/*/test) run with the control plane's.
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/global-setup.ts"],
    // Every response a test app sends is checked against its OpenAPI document (test/helpers/contract.ts).
    setupFiles: ["test/setup/contract.ts"],
    // The emulator checks that no stored object is mutated after it was stored (its store.ts).
    env: { EMULATOR_CHECK_STORED: "1" },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database schema (test/helpers/db.ts), so files may run in parallel.
    pool: "forks",
    maxWorkers: 2,
  },
});
