/**
 * The production smoke test: runs the artifact we ship, configured the way k8s/ configures it.
 * Entry: scripts/smoke-prod.sh (README "Production smoke test"). Steps:
 *  1. build exactly as the Dockerfile does — `docker build` when a container engine answers, otherwise
 *     the Dockerfile's own stages (COPY/RUN/ENV read from it) in a temporary directory;
 *  2. import every module of the pruned dist/ with production dependencies only (no emulator either);
 *  3. start the standalone Kubernetes API emulator (from this checkout) as the "real cluster";
 *  4. create a fresh PostgreSQL database and migrate it with k8s/migrate-job.yaml's command and env;
 *  5. start the API with the image's CMD and the Deployment's environment (ConfigMap + env + secret
 *     files), run rest/end-to-end-test.rest against it, create instances that must survive a restart;
 *  6. SIGTERM: exit 0 within terminationGracePeriodSeconds; start again; the instances are RUNNING.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { get as httpsGet } from "node:https";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { parse } from "yaml";
import { freePort } from "../lib/free-port.js";
import { readDockerfile, type Stage } from "./dockerfile.js";
import { apiEnvironment, DECLARED, drift, type Manifests, migrateEnvironment, readManifests } from "./env.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const started = Date.now();
const timings: Array<[string, number]> = [];

function log(msg: string): void {
  console.log(`==> [${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}
/** A failure that waiting cannot fix (waitFor retries other errors, e.g. a refused connection at start). */
class Fatal extends Error {}
function fail(msg: string): never {
  throw new Fatal(msg);
}
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  log(name);
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings.push([name, Date.now() - t]);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, alive?: () => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive?.();
    const v = await fn().catch((err: unknown) => {
      if (err instanceof Fatal) throw err;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** GET over https, verifying the server against `ca` only. */
function httpsStatus(url: string, ca: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", reject);
  });
}

// ---- processes -------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  logFile: string;
  /** Signals the process's own group (npm and docker run have children), while it runs. */
  kill(signal: NodeJS.Signals): void;
}

function start(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Proc {
  const out = createWriteStream(opts.logFile, { flags: "a" });
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", (err) => {
      out.write(`spawn error: ${err.message}\n`);
      resolve(-1);
    });
    child.once("exit", (code, signal) => {
      if (signal) out.write(`(killed by ${signal})\n`);
      resolve(code);
    });
  });
  const kill = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  return { child, exited, logFile: opts.logFile, kill };
}

function tail(file: string, lines = 40): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "(no log)";
}

async function runToEnd(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Promise<void> {
  const code = await start(argv, opts).exited;
  if (code !== 0) fail(`${argv.join(" ")} exited ${code}; last lines of ${opts.logFile}:\n${tail(opts.logFile)}`);
}

/** The env a container gets is exactly its env: on the host, too, nothing leaks in from this shell. */
function exactEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...env };
}

// ---- the artifact: the image, or the Dockerfile's steps without an engine ---------------------

interface Artifact {
  describe: string;
  /** Where secrets and the kubeconfig are, seen from the process (the manifests' paths in a container). */
  placement(secretsHostDir: string, mountPath: string): { secretsDir?: string };
  kubeconfigPath(hostPath: string): string;
  /** Runs argv (the image's CMD or a manifest's args) with exactly `env`. */
  start(argv: string[], env: Record<string, string>, mounts: Array<[string, string]>, logFile: string): Proc;
  importCheck(entries: string[], logFile: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Copies like COPY: a directory's content into dest, files into dest/ (or onto dest when it names a file). */
function copyLike(src: string, dest: string, many: boolean): void {
  if (statSync(src).isDirectory()) {
    cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  } else {
    const target = many || dest.endsWith("/") ? path.join(dest, path.basename(src)) : dest;
    mkdirSync(path.dirname(target), { recursive: true });
    cpSync(src, target);
  }
}

/** Reads .dockerignore's top-level names (the build context never includes them). */
function dockerignored(): Set<string> {
  const f = path.join(ROOT, ".dockerignore");
  return new Set(
    existsSync(f)
      ? readFileSync(f, "utf8")
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith("#"))
      : [],
  );
}

function hostArtifact(appDir: string, describe: string): Artifact {
  return {
    describe,
    placement: (secretsHostDir) => ({ secretsDir: secretsHostDir }),
    kubeconfigPath: (hostPath) => hostPath,
    start(argv, env, _mounts, logFile) {
      const [cmd, ...args] = argv;
      return start([cmd === "node" ? process.execPath : (cmd as string), ...args], { cwd: appDir, env: exactEnv(env), logFile });
    },
    async importCheck(entries, logFile) {
      await runToEnd([process.execPath, path.join(ROOT, "scripts/smoke-prod/import-all.mjs"), appDir, ...entries], {
        cwd: appDir,
        env: exactEnv({}),
        logFile,
      });
      console.log(`  ${tail(logFile).trim().split("\n").at(-1)}`);
    },
    async cleanup() {},
  };
}

async function buildWithoutEngine(stages: Stage[], tmp: string): Promise<Artifact> {
  const ignored = dockerignored();
  const dirs = new Map<string, { dir: string; workdir: string }>();
  let appDir = "";
  for (const stage of stages) {
    const dir = path.join(tmp, `stage-${stage.name}`);
    mkdirSync(dir, { recursive: true });
    let workdir = "/";
    let env: Record<string, string> = {};
    // A destination under WORKDIR; a trailing slash (a directory destination) is kept.
    const local = (p: string) =>
      path.join(dir, path.posix.relative(workdir, path.posix.resolve(workdir, p))) + (p.endsWith("/") ? "/" : "");
    for (const step of stage.steps) {
      if (step.op === "WORKDIR") workdir = step.dir;
      else if (step.op === "ENV") env = { ...env, ...step.vars };
      else if (step.op === "COPY") {
        for (const s of step.sources) {
          let src: string;
          if (step.from) {
            const from = dirs.get(step.from) ?? fail(`COPY --from=${step.from}: no such stage`);
            if (!s.startsWith(`${from.workdir}/`)) fail(`COPY --from=${step.from} ${s}: only paths under its WORKDIR are understood`);
            src = path.join(from.dir, s.slice(from.workdir.length + 1));
          } else {
            if (ignored.has(s)) fail(`COPY ${s}: excluded by .dockerignore`);
            src = path.join(ROOT, s);
          }
          copyLike(src, local(step.dest), step.sources.length > 1);
        }
      } else if (step.op === "RUN") {
        log(`  [${stage.name}] RUN ${step.command}`);
        await runToEnd(["sh", "-c", step.command], {
          cwd: dir,
          env: { ...process.env, ...env },
          logFile: path.join(tmp, `build-${stage.name}.log`),
        });
      }
    }
    dirs.set(stage.name, { dir, workdir });
    appDir = dir;
  }
  // The runtime stage: cut off from the build's node_modules and this checkout.
  return hostArtifact(appDir, `the Dockerfile's stages without a container engine, in ${appDir}`);
}

async function buildImage(tmp: string): Promise<Artifact> {
  const tag = `minispod-smoke:${Date.now()}`;
  await runToEnd(["docker", "build", "-t", tag, ROOT], { cwd: ROOT, env: process.env, logFile: path.join(tmp, "docker-build.log") });
  const names: string[] = [];
  const containerArgs = (env: Record<string, string>, mounts: Array<[string, string]>) => {
    const name = `minispod-smoke-${process.pid}-${names.length + 1}`;
    names.push(name);
    return [
      "--rm",
      `--name=${name}`,
      "--network=host",
      "--read-only",
      "--tmpfs=/tmp",
      "--cap-drop=ALL",
      "--security-opt=no-new-privileges",
      ...mounts.flatMap(([host, inContainer]) => ["-v", `${host}:${inContainer}:ro`]),
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    ];
  };
  return {
    describe: `the image ${tag} (docker build)`,
    placement: () => ({}),
    kubeconfigPath: () => "/var/run/minispod-smoke/kubeconfig",
    start(argv, env, mounts, logFile) {
      // `docker run` proxies SIGTERM to the container's process (node, PID 1, as in the pod).
      return start(["docker", "run", ...containerArgs(env, mounts), tag, ...argv], { cwd: ROOT, env: process.env, logFile });
    },
    async importCheck(entries, logFile) {
      const script = path.join(ROOT, "scripts/smoke-prod/import-all.mjs");
      await runToEnd(
        [
          "docker",
          "run",
          ...containerArgs({}, [[script, "/smoke/import-all.mjs"]]),
          tag,
          "node",
          "/smoke/import-all.mjs",
          "/app",
          ...entries,
        ],
        { cwd: ROOT, env: process.env, logFile },
      );
      console.log(`  ${tail(logFile).trim().split("\n").at(-1)}`);
    },
    async cleanup() {
      // A container whose `docker run` client was killed keeps running: remove them by name.
      for (const name of names)
        await runToEnd(["docker", "rm", "-f", name], { cwd: ROOT, env: process.env, logFile: path.join(tmp, "docker-rm.log") }).catch(
          () => {},
        );
      await runToEnd(["docker", "rmi", "-f", tag], { cwd: ROOT, env: process.env, logFile: path.join(tmp, "docker-rmi.log") }).catch(
        () => {},
      );
    },
  };
}

async function engineAnswers(): Promise<boolean> {
  const p = start(["docker", "info"], {
    cwd: ROOT,
    env: process.env,
    logFile: path.join(os.tmpdir(), `minispod-smoke-docker-info-${process.pid}.log`),
  });
  const code = await p.exited;
  rmSync(p.logFile, { force: true });
  return code === 0;
}

// ---- the API, over HTTP -----------------------------------------------------------------------

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by hand below.
  body: any;
}

async function call(
  base: string,
  method: string,
  p: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body ? { "content-type": "application/json" } : {}),
      ...opts.headers,
    },
    ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}

function expectStatus(r: Reply, status: number, what: string): void {
  if (r.status !== status) fail(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
}

async function login(base: string, email: string, password: string): Promise<string> {
  const r = await call(base, "POST", "/api/auth/login", { body: { email, password } });
  expectStatus(r, 200, `login ${email}`);
  return r.body.accessToken as string;
}

async function waitRunning(base: string, token: string, ids: string[]): Promise<void> {
  for (const id of ids) {
    await waitFor(`instance ${id} RUNNING`, 120_000, async () => {
      const r = await call(base, "GET", `/api/instances/${id}`, { token });
      expectStatus(r, 200, `GET instance ${id}`);
      if (r.body.instance.status === "FAILED") fail(`instance ${id} FAILED: ${r.body.instance.statusMessage}`);
      return r.body.instance.status === "RUNNING" ? true : undefined;
    });
  }
}

// ---- main --------------------------------------------------------------------------------------

interface Options {
  pgUrl: string;
  keep: boolean;
  /** A runtime stage kept by an earlier --keep run (stage-runtime): for iterating on this script only. */
  reuseBuild?: string;
}

function options(argv: string[]): Options {
  const o: Options = { pgUrl: process.env.SMOKE_PG_URL || "postgresql://postgres@127.0.0.1:5432/postgres", keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--pg-url") o.pgUrl = argv[++i] ?? fail("--pg-url needs a value");
    else if (a === "--keep") o.keep = true;
    else if (a === "--reuse-build") o.reuseBuild = path.resolve(argv[++i] ?? fail("--reuse-build needs a directory"));
    else
      fail(
        `unknown argument ${a} (usage: scripts/smoke-prod.sh [--pg-url postgresql://user@host:port/db] [--keep] [--reuse-build <kept stage-runtime dir>])`,
      );
  }
  return o;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const manifests: Manifests = readManifests(ROOT);
  const problems = drift(manifests);
  if (problems.length)
    fail(`the smoke test's declared environment differs from k8s/ (scripts/smoke-prod/env.ts):\n  ${problems.join("\n  ")}`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), "minispod-smoke-"));
  log(`working in ${tmp}`);
  const procs: Proc[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // 1. The artifact.
    const stages = readDockerfile(path.join(ROOT, "Dockerfile"));
    const artifact = await phase("build the artifact", async () => {
      if (opts.reuseBuild) return hostArtifact(opts.reuseBuild, `a kept build, ${opts.reuseBuild} (--reuse-build: not a CI run)`);
      if (await engineAnswers()) return buildImage(tmp);
      log("no container engine answers (docker info): running the Dockerfile's steps without an engine");
      return buildWithoutEngine(stages, tmp);
    });
    cleanups.push(() => artifact.cleanup());
    log(`artifact: ${artifact.describe}`);

    // 2. Every module loads with production dependencies only.
    const entries = [
      ...new Set([manifests.image.cmd, manifests.deployment.args, manifests.migrateJob.args].map((a) => a.at(-1) as string)),
    ];
    await phase("import every dist/ module with production dependencies only", () =>
      artifact.importCheck(entries, path.join(tmp, "import-check.log")),
    );

    // 3. The "real cluster": the standalone emulator, run from this checkout (it is not in the artifact).
    const kubeconfig = path.join(tmp, "kubeconfig");
    const emulator = await phase("start the standalone Kubernetes API emulator over HTTPS (a throwaway CA)", async () => {
      // Production refuses plain http and insecure-skip-tls-verify, as it should: the emulator serves
      // TLS with a certificate made here, and its kubeconfig carries that certificate as the CA.
      const cert = path.join(tmp, "emulator-cert.pem");
      const key = path.join(tmp, "emulator-key.pem");
      await runToEnd(
        // biome-ignore format: one openssl invocation
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
          "-subj", "/CN=minispod-smoke-emulator", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        { cwd: tmp, env: process.env, logFile: path.join(tmp, "openssl.log") },
      );
      const port = await freePort();
      const p = start(
        [
          "npm",
          "run",
          "--silent",
          "emulator",
          "--",
          "--port",
          String(port),
          "--kubeconfig",
          kubeconfig,
          "--tls-cert",
          cert,
          "--tls-key",
          key,
        ],
        { cwd: ROOT, env: process.env, logFile: path.join(tmp, "emulator.log") },
      );
      procs.push(p);
      const alive = () => {
        if (p.child.exitCode !== null) fail(`the emulator exited ${p.child.exitCode}:\n${tail(p.logFile)}`);
      };
      await waitFor(
        "the emulator's kubeconfig",
        60_000,
        async () => {
          const cluster = parse(readFileSync(kubeconfig, "utf8"))?.clusters?.[0]?.cluster;
          if (!cluster?.server) return undefined;
          if (
            !String(cluster.server).startsWith("https://") ||
            cluster["insecure-skip-tls-verify"] ||
            !cluster["certificate-authority-data"]
          )
            fail(`the emulator's kubeconfig is not https with a CA: ${JSON.stringify(cluster)}`);
          const ca = Buffer.from(cluster["certificate-authority-data"], "base64").toString();
          return (await httpsStatus(`${cluster.server}/version`, ca)) === 200 ? true : undefined;
        },
        alive,
      );
      // The image runs as uid 1000: let it read the kubeconfig (the emulator writes it 0600).
      chmodSync(kubeconfig, 0o644);
      return p;
    });

    // 4. A fresh database, migrated exactly as the Job does.
    const admin = new URL(opts.pgUrl);
    const dbName = `minispod_smoke_${Date.now()}_${process.pid}`;
    const dbUrl = new URL(admin);
    dbUrl.pathname = `/${dbName}`;
    await phase(`create database ${dbName}`, async () => {
      const c = new pg.Client({ connectionString: opts.pgUrl });
      await c.connect();
      await c.query(`CREATE DATABASE "${dbName}"`);
      await c.end();
    });
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: opts.pgUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
      await c.end();
    });

    const secretValues: Record<string, string> = {
      DATABASE_URL: dbUrl.toString(),
      JWT_SECRET: randomBytes(48).toString("base64"),
      ADMIN_PASSWORD: `smoke-${randomBytes(12).toString("hex")}`,
      CREDENTIALS_KEY: randomBytes(32).toString("base64"),
    };
    const secretsDir = (name: string, keys: readonly string[]) => {
      const dir = path.join(tmp, name);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755);
      for (const k of keys) writeFileSync(path.join(dir, k), secretValues[k] ?? fail(`no value for secret ${k}`), { mode: 0o444 });
      return dir;
    };
    const dataDir = (name: string) => {
      const dir = path.join(tmp, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    };

    await phase(`migrate: ${manifests.migrateJob.args.join(" ")} with the Job's env (${DECLARED.migrateJob.join(", ")})`, async () => {
      const dir = secretsDir("secrets-migrate", manifests.migrateJob.secretFiles);
      const place = artifact.placement(dir, manifests.migrateJob.secretMountPath);
      const env = migrateEnvironment(manifests, { ...place, overrides: place.secretsDir ? { DATA_DIR: dataDir("data-migrate") } : {} });
      log(`  env keys: ${Object.keys(env).sort().join(" ")}`);
      const p = artifact.start(
        manifests.migrateJob.args,
        env,
        [[dir, manifests.migrateJob.secretMountPath]],
        path.join(tmp, "migrate.log"),
      );
      const code = await p.exited;
      if (code !== 0) fail(`the migration exited ${code}:\n${tail(p.logFile)}`);
    });

    // 5. The API, as the Deployment runs it.
    const apiDir = secretsDir("secrets-api", manifests.secretKeys);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const apiPlace = artifact.placement(apiDir, manifests.deployment.secretMountPath);
    const apiEnv = apiEnvironment(manifests, {
      ...apiPlace,
      kubeconfigPath: artifact.kubeconfigPath(kubeconfig),
      overrides: { PORT: String(port), HOST: "127.0.0.1", ...(apiPlace.secretsDir ? { DATA_DIR: dataDir("data-api") } : {}) },
    });
    const apiMounts: Array<[string, string]> = [
      [apiDir, manifests.deployment.secretMountPath],
      [kubeconfig, artifact.kubeconfigPath(kubeconfig)],
    ];
    const adminEmail = apiEnv.ADMIN_EMAIL ?? fail("the ConfigMap sets no ADMIN_EMAIL");
    const grace = manifests.deployment.terminationGracePeriodSeconds;
    const startApi = async (n: number) => {
      const p = artifact.start(manifests.image.cmd, apiEnv, apiMounts, path.join(tmp, `api-${n}.log`));
      procs.push(p);
      await waitFor(
        "GET /readyz 200",
        120_000,
        async () => ((await call(base, "GET", "/readyz")).status === 200 ? true : undefined),
        () => {
          if (p.child.exitCode !== null) fail(`the API exited ${p.child.exitCode}:\n${tail(p.logFile)}`);
        },
      );
      return p;
    };
    const stopApi = async (p: Proc) => {
      const t = Date.now();
      p.kill("SIGTERM");
      const code = await Promise.race([p.exited, sleep(grace * 1000).then(() => "late" as const)]);
      if (code === "late") {
        p.kill("SIGKILL");
        fail(`the API did not exit within terminationGracePeriodSeconds (${grace} s) of SIGTERM:\n${tail(p.logFile)}`);
      }
      if (code !== 0) fail(`the API exited ${code} after SIGTERM:\n${tail(p.logFile)}`);
      log(`  exited 0, ${Date.now() - t} ms after SIGTERM (grace: ${grace} s)`);
    };

    log(`API env keys: ${Object.keys(apiEnv).sort().join(" ")}`);
    const api1 = await phase(
      `start the API: ${manifests.image.cmd.join(" ")} (NODE_ENV=${apiEnv.NODE_ENV}, K8S_MODE=${apiEnv.K8S_MODE})`,
      () => startApi(1),
    );

    await phase("rest/end-to-end-test.rest (httpyac, from this checkout)", () =>
      runToEnd(
        [
          path.join(ROOT, "node_modules/.bin/httpyac"),
          "send",
          "rest/end-to-end-test.rest",
          "--all",
          "--bail",
          "--var",
          `baseUrl=${base}`,
          "--var",
          `adminEmail=${adminEmail}`,
          "--var",
          `adminPassword=${secretValues.ADMIN_PASSWORD}`,
          "--output",
          "short",
          "--output-failed",
          "exchange",
        ],
        { cwd: ROOT, env: process.env, logFile: path.join(tmp, "httpyac.log") },
      ).then(() => console.log(`  ${tail(path.join(tmp, "httpyac.log")).trim().split("\n").at(-1)}`)),
    );

    const userEmail = `smoke-${Date.now()}@example.com`;
    const userPassword = `smoke-${randomBytes(8).toString("hex")}`;
    const survivors = await phase("create instances that must survive a restart", async () => {
      const reg = await call(base, "POST", "/api/auth/register", { body: { email: userEmail, password: userPassword, name: "Smoke" } });
      expectStatus(reg, 201, "register");
      const adminToken = await login(base, adminEmail, secretValues.ADMIN_PASSWORD as string);
      const grant = await call(base, "POST", `/api/admin/users/${reg.body.user.id}/credits`, {
        token: adminToken,
        body: { amount: 10_000, reason: "smoke test" },
        headers: { "Idempotency-Key": `smoke-${reg.body.user.id}` },
      });
      expectStatus(grant, 201, "grant credits");
      const services = await call(base, "GET", "/api/services");
      expectStatus(services, 200, "GET /api/services");
      const ids: string[] = [];
      for (const slug of ["n8n", "postgresql"]) {
        const svc = (services.body.data as Array<{ slug: string; plans: Array<{ id: string; monthlyPriceCredits: number }> }>).find(
          (s) => s.slug === slug,
        );
        const plan = svc?.plans.sort((a, b) => a.monthlyPriceCredits - b.monthlyPriceCredits)[0] ?? fail(`no ${slug} plan`);
        const sub = await call(base, "POST", "/api/subscriptions", {
          token: reg.body.accessToken,
          body: { planId: plan.id, instanceName: `smoke ${slug}` },
        });
        expectStatus(sub, 201, `subscribe to ${slug}`);
        ids.push(sub.body.instance.id);
      }
      await waitRunning(base, reg.body.accessToken, ids);
      log(`  RUNNING: ${ids.join(", ")}`);
      return ids;
    });

    // 6. Graceful shutdown within the grace period, a restart, and the instances are still RUNNING.
    await phase("SIGTERM the API", () => stopApi(api1));
    const api2 = await phase("start the API again", () => startApi(2));
    await phase("the instances are still RUNNING after the restart", async () => {
      const token = await login(base, userEmail, userPassword);
      const list = await call(base, "GET", "/api/instances?status=RUNNING", { token });
      expectStatus(list, 200, "list RUNNING instances");
      const running = (list.body.data as Array<{ id: string }>).map((i) => i.id).sort();
      if (JSON.stringify(running) !== JSON.stringify([...survivors].sort()))
        fail(`RUNNING after restart: ${running} (expected ${survivors})`);
      // The restarted process reaches the same objects in the cluster: a health sweep of them now.
      const adminToken = await login(base, adminEmail, secretValues.ADMIN_PASSWORD as string);
      const check = await call(base, "POST", "/api/admin/health/check", { token: adminToken, body: { instanceIds: survivors } });
      expectStatus(check, 200, "health check");
      if (check.body.skipped.length) fail(`health check skipped ${JSON.stringify(check.body.skipped)}`);
      const ready = await call(base, "GET", "/readyz");
      expectStatus(ready, 200, "readyz");
      if (ready.body.checks.cluster.status !== "reachable") fail(`readyz after a sweep: ${JSON.stringify(ready.body)}`);
      for (const id of survivors) {
        const r = await call(base, "GET", `/api/instances/${id}`, { token });
        expectStatus(r, 200, `GET instance ${id}`);
        if (r.body.instance.status !== "RUNNING") fail(`instance ${id} is ${r.body.instance.status} after the restart`);
      }
      log(
        `  RUNNING after restart: ${survivors.join(", ")}; health check: ${JSON.stringify(check.body.results ?? check.body).slice(0, 300)}`,
      );
    });
    await phase("SIGTERM the API again", () => stopApi(api2));

    await phase("no secret value in the logs", async () => {
      const logs = ["migrate.log", "api-1.log", "api-2.log"].map((f) => readFileSync(path.join(tmp, f), "utf8")).join("\n");
      for (const [k, v] of Object.entries({
        JWT_SECRET: secretValues.JWT_SECRET,
        ADMIN_PASSWORD: secretValues.ADMIN_PASSWORD,
        CREDENTIALS_KEY: secretValues.CREDENTIALS_KEY,
        userPassword,
      })) {
        if (v && logs.includes(v)) fail(`${k}'s value appears in the logs`);
      }
    });

    await phase("stop the emulator", async () => {
      // The test fixture's own exit is its package's business (its tests); here it only has to go.
      emulator.kill("SIGTERM");
      await Promise.race([emulator.exited, sleep(10_000)]);
    });
  } catch (err) {
    for (const p of procs)
      if (p.child.exitCode === null) console.error(`--- ${path.basename(p.logFile)} (last lines) ---\n${tail(p.logFile, 30)}`);
    throw err;
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
    if (opts.keep) log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
    console.log("\ntimings:");
    for (const [name, ms] of timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`);
    console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`);
  }
  log("production smoke test passed");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`\nproduction smoke test FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
