/**
 * A typed client for the MinisPod API, walking the user flow a dashboard walks: register, get
 * credits (an admin grants them), list services, subscribe, wait for RUNNING, read credentials.
 *
 * The types come from the server's own /openapi.json (`openapi-typescript`, see
 * scripts/typed-client.sh, which generates them, type-checks this file and runs it against a
 * local-mode server). If a response schema in the document were missing or wrong, this file would
 * not type-check — or its runtime checks below would fail.
 *
 *   BASE_URL=http://localhost:3000 ADMIN_EMAIL=... ADMIN_PASSWORD=... npx tsx examples/typed-client/flow.ts
 */
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { paths } from "./generated/schema.js";

type Json<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { "application/json": infer B } } };
}
  ? B
  : never;
/** An instance, as the document describes it. */
type Instance = Json<"/api/instances/{id}", "get", 200>["instance"];
// Compile-time checks that the document's types are real, not `{[key: string]: unknown}`.
const TERMINAL: Instance["status"][] = ["RUNNING", "FAILED", "TERMINATED"];
type Credentials = Json<"/api/instances/{id}/credentials", "get", 200>["credentials"];

const baseUrl = process.env.BASE_URL ?? "http://localhost:3000";
const adminEmail = process.env.ADMIN_EMAIL ?? "admin@minispod.local";
const adminPassword = process.env.ADMIN_PASSWORD;
if (!adminPassword) throw new Error("set ADMIN_PASSWORD (local mode: adminPassword in DATA_DIR/local-secrets.json)");

function ok<T>(what: string, r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data === undefined) throw new Error(`${what}: HTTP ${r.response.status} ${JSON.stringify(r.error)}`);
  console.log(`ok  ${what} (${r.response.status})`);
  return r.data;
}

const api = createClient<paths>({ baseUrl });

// 1. Register: the response carries the user and a token pair.
const email = `typed-client-${randomUUID().slice(0, 8)}@example.com`;
const session = ok(
  "register",
  await api.POST("/api/auth/register", { body: { email, password: "typed-client-password", name: "Typed Client" } }),
);
const me = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${session.accessToken}` } });

// 2. Credits: the local admin grants them (Idempotency-Key: a retry would not grant twice).
const adminSession = ok("admin login", await api.POST("/api/auth/login", { body: { email: adminEmail, password: adminPassword } }));
const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${adminSession.accessToken}` } });
const grant = ok(
  "admin grant",
  await admin.POST("/api/admin/users/{id}/credits", {
    params: { path: { id: session.user.id }, header: { "Idempotency-Key": randomUUID() } },
    body: { amount: 5000, reason: "typed client example" },
  }),
);
const balance = ok("balance", await me.GET("/api/credits")).balance;
if (balance !== grant.transaction.balanceAfter) throw new Error(`balance ${balance} != ${grant.transaction.balanceAfter}`);

// 3. The catalog: the cheapest PostgreSQL plan.
const services = ok("list services", await api.GET("/api/services")).data;
const postgres = services.find((s) => s.slug === "postgresql");
const plan = postgres?.plans[0];
if (!plan) throw new Error("no PostgreSQL plan in the catalog");
console.log(`    ${postgres?.name} ${plan.name}: ${plan.cpuMilli}m CPU, ${plan.memoryMb} MB, ${plan.monthlyPriceCredits} credits/month`);

// 4. Subscribe: charged, and the instance starts provisioning.
const bought = ok(
  "subscribe",
  await me.POST("/api/subscriptions", {
    params: { header: { "Idempotency-Key": randomUUID() } },
    body: { planId: plan.id, instanceName: "typed-db" },
  }),
);
let instance: Instance = bought.instance;
console.log(`    instance ${instance.id} ${instance.status}; balance now ${ok("balance", await me.GET("/api/credits")).balance}`);

// 5. Wait for RUNNING.
const deadline = Date.now() + 120_000;
while (!TERMINAL.includes(instance.status)) {
  if (Date.now() > deadline) throw new Error(`instance still ${instance.status} after 120 s`);
  await new Promise((r) => setTimeout(r, 500));
  instance = (await me.GET("/api/instances/{id}", { params: { path: { id: instance.id } } })).data?.instance ?? instance;
}
if (instance.status !== "RUNNING") throw new Error(`instance ended ${instance.status}: ${instance.statusMessage}`);
console.log(`ok  RUNNING: ${instance.url} (${instance.resources.cpuMilli}m CPU, ${instance.resources.memoryMb} MB)`);

// 6. Credentials (owner only): for PostgreSQL, the connection details. The password is not printed.
const credentials: Credentials = ok(
  "credentials",
  await me.GET("/api/instances/{id}/credentials", { params: { path: { id: instance.id } } }),
).credentials;
if (!("connectionString" in credentials)) throw new Error("expected PostgreSQL connection details");
console.log(
  `    ${credentials.username}@${credentials.host}:${credentials.port}/${credentials.database} (password: ${credentials.password.length} characters)`,
);
console.log("typed client flow passed");
