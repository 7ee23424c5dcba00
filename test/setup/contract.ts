/**
 * Fails the test during which an app answered something its OpenAPI document does not describe
 * (see test/helpers/contract.ts; apps made by createTestContext are checked). Runs in every test file.
 */
import { afterAll, afterEach } from "vitest";
import { takeContractMismatches } from "../helpers/contract.js";

function failOnMismatches(when: string): void {
  const found = takeContractMismatches();
  if (found.length) {
    throw new Error(
      `${found.length} response(s) ${when} do not match /openapi.json (fix the route's doc() / response schema, or the handler):\n  ${found.join("\n  ")}`,
    );
  }
}

afterEach(() => failOnMismatches("in this test"));
afterAll(() => failOnMismatches("after the last test of this file"));
