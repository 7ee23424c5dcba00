/**
 * The one configuration object. Every setting comes from the environment, is parsed once at boot
 * by one zod schema, and startup fails listing every problem at once. Secrets may also be given as
 * `<NAME>_FILE` (a path whose contents are the value), as container platforms mount them.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { decodeCredentialsKey } from "../platform/credentials-cipher.js";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes");

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** `5m`, `30s`, `1h`, `7d`, `250ms` or plain milliseconds. */
export function parseDurationMs(value: string): number | undefined {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1;
  return n * factor;
}

const durationFrom = (minMs: number) =>
  z.string().transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < minMs) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not a duration (e.g. 30s, 5m, 1h, 7d)` });
      return z.NEVER;
    }
    return ms;
  });
const duration = durationFrom(1);

/** The environment, one setting per variable, with its default. */
const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  TRUST_PROXY: z.string().default("loopback,uniquelocal"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATABASE_URL: z.string().url().optional(),
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  DATA_DIR: z.string().default("./data"),
  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: z.string().default("minispod"),
  JWT_AUDIENCE: z.string().default("minispod-api"),
  ACCESS_TOKEN_TTL: duration.default(15 * 60_000),
  REFRESH_TOKEN_TTL: duration.default(30 * 86_400_000),
  ADMIN_EMAIL: z.string().email().default("admin@minispod.local"),
  ADMIN_PASSWORD: z.string().optional(),
  BASE_DOMAIN: z.string().default("minispod.local"),
  K8S_MODE: z.enum(["emulated", "cluster"]).optional(),
  KUBECONFIG_PATH: z.string().optional(),
  /** Set by Kubernetes inside a pod: the default K8S_MODE there is `cluster`. */
  KUBERNETES_SERVICE_HOST: z.string().optional(),
  K8S_SKIP_TLS_VERIFY: bool.default(false),
  K8S_REQUEST_TIMEOUT: duration.default(10_000),
  K8S_EMULATOR_PORT: int(0, 65535).default(0),
  K8S_EMULATOR_POD_READY_DELAY: durationFrom(0).default(1500),
  K8S_EMULATOR_SNAPSHOT_READY_DELAY: durationFrom(0).default(500),
  INGRESS_CLASS_NAME: z.string().default("nginx"),
  INGRESS_CONTROLLER_NAMESPACE: z.string().default("ingress-nginx"),
  TLS_CLUSTER_ISSUER: z.string().default("letsencrypt-prod"),
  STORAGE_CLASS_NAME: z.string().optional(),
  POSTGRES_SERVICE_TYPE: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP"),
  POSTGRES_TLS_SSLMODE: z.enum(["disable", "require", "verify-ca", "verify-full"]).default("disable"),
  HEALTH_INTERVAL: duration.default(5 * 60_000),
  HEALTH_CONSECUTIVE_OBSERVATIONS: int(1, 100).default(2),
  HEALTH_RETENTION: duration.default(30 * 86_400_000),
  HEALTH_CACHE: z.enum(["all", "metadata", "off"]).default("all"),
  RECONCILE_RESYNC_INTERVAL: duration.default(30_000),
  ROLLOUT_TIMEOUT: duration.default(10 * 60_000),
  STUCK_POD_GRACE: duration.default(2 * 60_000),
  BACKUP_SNAPSHOT_CLASS: z.string().min(1).default("csi-snapshots"),
  BACKUP_TIMEOUT: duration.default(15 * 60_000),
  BACKUP_POLL_INTERVAL: durationFrom(100).default(10_000),
  BACKUP_SCHEDULE_ENABLED: bool.default(true),
  BACKUP_SCHEDULE_SPREAD: durationFrom(60_000)
    .pipe(z.number().max(86_400_000, "at most 24h"))
    .default(4 * 3_600_000),
  BACKUP_SCHEDULE_BATCH: int(1, 10_000).default(50),
  BACKUP_RETENTION_AFTER_DELETE: durationFrom(0).default(7 * 86_400_000),
  RECONCILE_CONCURRENCY: int(1, 256).default(8),
  RECONCILE_LEASE: durationFrom(1000).default(60_000),
  CATALOG_CACHE_TTL: durationFrom(0).default(5_000),
  RENEWAL_CRON: z.string().default("*/10 * * * *"),
  BILLING_GRACE_PERIOD: duration.default(7 * 86_400_000),
  IDEMPOTENCY_RETENTION: duration.default(7 * 86_400_000),
  DEFAULT_QUOTA_MAX_INSTANCES: int(0).default(5),
  DEFAULT_QUOTA_CPU_MILLI: int(0).default(4000),
  DEFAULT_QUOTA_MEMORY_MB: int(0).default(8192),
  DEFAULT_QUOTA_STORAGE_GB: int(0).default(50),
  LOGIN_RATE_LIMIT_PER_MINUTE: int(1).default(10),
  REGISTER_RATE_LIMIT_PER_HOUR: int(1).default(20),
  TOKEN_REVOCATION_POLL_INTERVAL: durationFrom(50).default(500),
  AUDIT_RETENTION: durationFrom(86_400_000).default(365 * 86_400_000),
  BODY_LIMIT: z.string().default("100kb"),
  CORS_ORIGINS: z.string().optional(),
  BACKGROUND_LOOPS: bool.default(true),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  STREAM_TICKET_TTL: duration.default(60_000),
  SSE_HEARTBEAT_INTERVAL: duration.default(15_000),
  EVENT_STREAM_POLL_INTERVAL: duration.default(500),
  MAX_EVENT_STREAMS_PER_USER: int(1, 1000).default(5),
  MAX_LOG_FOLLOWS_PER_USER: int(1, 1000).default(3),
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_[A-Za-z0-9_]+$/, "must be a Stripe secret or restricted key (sk_... or rk_...)")
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9_+/=]+$/, "must be a webhook signing secret (whsec_...)")
    .optional(),
  STRIPE_API_URL: z.string().url().optional(),
  APP_URL: z.string().url().optional(),
  STRIPE_WEBHOOK_RATE_LIMIT_PER_MINUTE: int(1).default(600),
  CHECKOUT_RATE_LIMIT_PER_MINUTE: int(1).default(10),
  /** 32 random bytes in base64: encrypts instance credentials in the database (AES-256-GCM). */
  CREDENTIALS_KEY: z.string().optional(),
  /** Comma-separated former CREDENTIALS_KEYs: still decrypt, until `npm run credentials:reencrypt` has run. */
  CREDENTIALS_OLD_KEYS: z.string().optional(),
});

export type RawEnv = z.input<typeof EnvSchema>;

/**
 * The configuration object: the environment grouped by concern, with units in the names, and the
 * rules that span several variables (production requirements). `Config` is inferred from it.
 */
const ConfigSchema = EnvSchema.transform((e, ctx) => {
  const problem = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
  const isProduction = e.NODE_ENV === "production";
  const kubeMode = e.K8S_MODE ?? (isProduction || e.KUBECONFIG_PATH || e.KUBERNETES_SERVICE_HOST ? "cluster" : "emulated");
  if (isProduction) {
    if (!e.DATABASE_URL) problem("DATABASE_URL", "required when NODE_ENV=production (no embedded database)");
    if (!e.JWT_SECRET || Buffer.byteLength(e.JWT_SECRET) < 32)
      problem("JWT_SECRET", "required when NODE_ENV=production, at least 32 bytes");
    if (kubeMode === "emulated") problem("K8S_MODE", "the emulator is a test fixture; production needs a real cluster");
    if (e.K8S_SKIP_TLS_VERIFY) problem("K8S_SKIP_TLS_VERIFY", "never in production (the API server's certificate must be verified)");
  } else if (e.JWT_SECRET && Buffer.byteLength(e.JWT_SECRET) < 32) {
    problem("JWT_SECRET", "must be at least 32 bytes");
  }
  if (e.ADMIN_PASSWORD !== undefined && e.ADMIN_PASSWORD.length < 10) problem("ADMIN_PASSWORD", "must be at least 10 characters");
  if (e.STRIPE_SECRET_KEY && !e.STRIPE_WEBHOOK_SECRET) {
    problem("STRIPE_WEBHOOK_SECRET", "required with STRIPE_SECRET_KEY (without it no payment is ever credited)");
  }
  if (e.STRIPE_SECRET_KEY && isProduction && !e.APP_URL) problem("APP_URL", "required with STRIPE_SECRET_KEY in production");
  if (e.STRIPE_API_URL && !/^https?:$/.test(new URL(e.STRIPE_API_URL).protocol)) problem("STRIPE_API_URL", "must be an http(s) URL");
  const corsOrigins = parseCorsOrigins(e.CORS_ORIGINS, isProduction, problem);
  const credentials = parseCredentialsKeys(e, isProduction, problem);
  const stripeApiUrl = e.STRIPE_API_URL ? new URL(e.STRIPE_API_URL) : undefined;

  return {
    env: e.NODE_ENV,
    isProduction,
    http: {
      port: e.PORT,
      host: e.HOST,
      bodyLimit: e.BODY_LIMIT,
      trustProxy: e.TRUST_PROXY,
      /** Browser origins allowed to call the API (CORS): a list of `scheme://host[:port]`, or "*" for any. */
      corsOrigins,
    },
    log: { level: e.LOG_LEVEL },
    db: {
      /** Unset: embedded PGlite under dataDir. */
      url: e.DATABASE_URL,
      /** Connections to PostgreSQL per replica (Prisma, transactions and the pipelined reads share them). */
      poolSize: e.DATABASE_POOL_SIZE,
      dataDir: path.resolve(e.DATA_DIR),
    },
    auth: {
      /** Undefined only in local mode before the secret store fills it (see platform/local-secrets). */
      jwtSecret: e.JWT_SECRET,
      jwtIssuer: e.JWT_ISSUER,
      jwtAudience: e.JWT_AUDIENCE,
      accessTokenTtlMs: e.ACCESS_TOKEN_TTL,
      refreshTokenTtlMs: e.REFRESH_TOKEN_TTL,
      loginRateLimitPerMinute: e.LOGIN_RATE_LIMIT_PER_MINUTE,
      /** Registrations per client IP per hour. */
      registerRateLimitPerHour: e.REGISTER_RATE_LIMIT_PER_HOUR,
      /** How often each replica reads sessions revoked on other replicas. */
      revocationPollIntervalMs: e.TOKEN_REVOCATION_POLL_INTERVAL,
    },
    /** How long audit events are kept (at least a day). */
    audit: { retentionMs: e.AUDIT_RETENTION },
    admin: { email: e.ADMIN_EMAIL.toLowerCase(), password: e.ADMIN_PASSWORD },
    baseDomain: e.BASE_DOMAIN,
    kube: {
      mode: kubeMode,
      kubeconfigPath: e.KUBECONFIG_PATH,
      /** Skips TLS verification of the API server; never for production clusters. */
      dangerouslySkipTlsVerify: e.K8S_SKIP_TLS_VERIFY,
      /** Bound on one Kubernetes API request. */
      requestTimeoutMs: e.K8S_REQUEST_TIMEOUT,
      emulatorPort: e.K8S_EMULATOR_PORT,
      emulatorPodReadyDelayMs: e.K8S_EMULATOR_POD_READY_DELAY,
      emulatorSnapshotReadyDelayMs: e.K8S_EMULATOR_SNAPSHOT_READY_DELAY,
      ingressClassName: e.INGRESS_CLASS_NAME,
      ingressControllerNamespace: e.INGRESS_CONTROLLER_NAMESPACE,
      tlsClusterIssuer: e.TLS_CLUSTER_ISSUER,
      storageClassName: e.STORAGE_CLASS_NAME,
      postgresServiceType: e.POSTGRES_SERVICE_TYPE,
      /** The sslmode PostgreSQL connection details name: "disable" unless the cluster offers TLS on the instances' port. */
      postgresTlsSslmode: e.POSTGRES_TLS_SSLMODE,
    },
    health: {
      intervalMs: e.HEALTH_INTERVAL,
      consecutiveObservations: e.HEALTH_CONSECUTIVE_OBSERVATIONS,
      retentionMs: e.HEALTH_RETENTION,
      /**
       * Which kinds the sweep keeps in informers (LIST then WATCH) instead of LISTing each sweep: all
       * twelve watchable kinds, the nine metadata-only ones, or none. Unsynced informers fall back to a LIST.
       */
      cache: e.HEALTH_CACHE,
    },
    backups: {
      /** VolumeSnapshotClass of instance backups (its driver must be the instances' CSI driver). */
      snapshotClass: e.BACKUP_SNAPSHOT_CLASS,
      /** A backup whose snapshot is not readyToUse within this is FAILED. */
      timeoutMs: e.BACKUP_TIMEOUT,
      /** How often the backup loop looks at pending backups (it is also kicked by each request). */
      pollIntervalMs: e.BACKUP_POLL_INTERVAL,
      /** Whether the backup loop takes the plans' daily scheduled backups (retention and overdue alerts work either way). */
      scheduleEnabled: e.BACKUP_SCHEDULE_ENABLED,
      /** Each instance's daily slot is the plan's backupHourUtc plus an offset in [0, spread) derived from its id. */
      scheduleSpreadMs: e.BACKUP_SCHEDULE_SPREAD,
      /** At most this many scheduled backups are requested per pass of the backup loop. */
      scheduleBatch: e.BACKUP_SCHEDULE_BATCH,
      /** A deleted instance's newest READY backup is kept this long, restorable into a new instance (0: none kept). */
      retentionAfterDeleteMs: e.BACKUP_RETENTION_AFTER_DELETE,
    },
    reconciler: {
      resyncIntervalMs: e.RECONCILE_RESYNC_INTERVAL,
      rolloutTimeoutMs: e.ROLLOUT_TIMEOUT,
      stuckPodGraceMs: e.STUCK_POD_GRACE,
      concurrency: e.RECONCILE_CONCURRENCY,
      /** How long a claim on an instance lasts before another replica may take it over. */
      leaseMs: e.RECONCILE_LEASE,
    },
    /** Plans, services and default versions kept in memory this long (this replica's admin writes clear it at once; 0: off). */
    catalog: { cacheTtlMs: e.CATALOG_CACHE_TTL },
    /** Live responses: instance event streams (SSE) and log follows. */
    streams: {
      /** Lifetime of a `?ticket=` from POST /api/instances/:id/stream-ticket. */
      ticketTtlMs: e.STREAM_TICKET_TTL,
      /** A `: heartbeat` comment this often on an idle event stream. */
      heartbeatMs: e.SSE_HEARTBEAT_INTERVAL,
      /** How often this process's one shared event poller reads new events for all its open streams. */
      pollMs: e.EVENT_STREAM_POLL_INTERVAL,
      /** Concurrent event streams / log follows one user may hold open on one replica (429 beyond). */
      maxEventStreamsPerUser: e.MAX_EVENT_STREAMS_PER_USER,
      maxLogFollowsPerUser: e.MAX_LOG_FOLLOWS_PER_USER,
    },
    billing: { renewalCron: e.RENEWAL_CRON, gracePeriodMs: e.BILLING_GRACE_PERIOD, idempotencyRetentionMs: e.IDEMPOTENCY_RETENTION },
    quotaDefaults: {
      maxInstances: e.DEFAULT_QUOTA_MAX_INSTANCES,
      cpuMilli: e.DEFAULT_QUOTA_CPU_MILLI,
      memoryMb: e.DEFAULT_QUOTA_MEMORY_MB,
      storageGb: e.DEFAULT_QUOTA_STORAGE_GB,
    },
    /**
     * The key instance credentials are encrypted with (base64, 32 bytes), and former keys that still
     * decrypt. `key` is undefined only in local mode, where one is generated into DATA_DIR.
     */
    credentials,
    /** Run the reconciler, health and renewal loops in this process. */
    backgroundLoops: e.BACKGROUND_LOOPS,
    /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
    metrics: { token: e.METRICS_TOKEN },
    payments: {
      /**
       * `stripe` with STRIPE_SECRET_KEY; `development` (local page, no money moves) without it outside
       * production; `none` in production without it (checkout answers 503 PAYMENTS_NOT_CONFIGURED).
       */
      provider: (e.STRIPE_SECRET_KEY ? "stripe" : isProduction ? "none" : "development") as "stripe" | "development" | "none",
      stripeSecretKey: e.STRIPE_SECRET_KEY,
      stripeWebhookSecret: e.STRIPE_WEBHOOK_SECRET,
      /** Where the Stripe library sends API calls (a stand-in in tests/staging); undefined: Stripe's own. */
      stripeApi: stripeApiUrl
        ? {
            host: stripeApiUrl.hostname,
            port: Number(stripeApiUrl.port || (stripeApiUrl.protocol === "http:" ? 80 : 443)),
            protocol: (stripeApiUrl.protocol === "http:" ? "http" : "https") as "http" | "https",
          }
        : undefined,
      /** The web app users return to after a checkout (success and cancel URLs), without a trailing slash. */
      appUrl: (e.APP_URL ?? `http://localhost:${e.PORT || 3000}`).replace(/\/+$/, ""),
      webhookRateLimitPerMinute: e.STRIPE_WEBHOOK_RATE_LIMIT_PER_MINUTE,
      checkoutRateLimitPerMinute: e.CHECKOUT_RATE_LIMIT_PER_MINUTE,
    },
  };
});

export type Config = z.output<typeof ConfigSchema>;
export type PaymentsConfig = Config["payments"];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const FILE_SECRETS = [
  "DATABASE_URL",
  "JWT_SECRET",
  "ADMIN_PASSWORD",
  "METRICS_TOKEN",
  "STRIPE_SECRET_KEY",
  "STRIPE_WEBHOOK_SECRET",
  "CREDENTIALS_KEY",
  "CREDENTIALS_OLD_KEYS",
] as const;

const KEY_HINT = "32 random bytes in base64 (e.g. `openssl rand -base64 32`)";

/** CREDENTIALS_KEY (required in production) and CREDENTIALS_OLD_KEYS, each 32 bytes of base64. */
function parseCredentialsKeys(
  e: { CREDENTIALS_KEY?: string; CREDENTIALS_OLD_KEYS?: string },
  isProduction: boolean,
  problem: (variable: string, message: string) => void,
): { key: string | undefined; oldKeys: string[] } {
  const key = e.CREDENTIALS_KEY?.trim();
  if (key === undefined) {
    if (isProduction) problem("CREDENTIALS_KEY", `required when NODE_ENV=production: ${KEY_HINT}`);
  } else if (!decodeCredentialsKey(key)) {
    problem("CREDENTIALS_KEY", `must be ${KEY_HINT}`);
  }
  const oldKeys = (e.CREDENTIALS_OLD_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  oldKeys.forEach((k, i) => {
    if (!decodeCredentialsKey(k)) problem("CREDENTIALS_OLD_KEYS", `item ${i + 1} must be ${KEY_HINT}`);
  });
  if (oldKeys.length && key === undefined) problem("CREDENTIALS_OLD_KEYS", "needs CREDENTIALS_KEY (the key to re-encrypt with)");
  return { key, oldKeys };
}
/** Where dashboards are usually served during development (Next/CRA, Vite, Angular, Vue CLI), on localhost and 127.0.0.1. */
export const LOCAL_DEV_ORIGINS = [3000, 3001, 4200, 5173, 8080].flatMap((port) => [`http://localhost:${port}`, `http://127.0.0.1:${port}`]);

/**
 * CORS_ORIGINS: comma-separated origins (`https://dash.example.com,http://localhost:5173`), `*` for any,
 * or `none`. Unset: none in production, LOCAL_DEV_ORIGINS otherwise.
 */
function parseCorsOrigins(
  value: string | undefined,
  isProduction: boolean,
  problem: (variable: string, message: string) => void,
): string[] | "*" {
  if (value === undefined) return isProduction ? [] : [...LOCAL_DEV_ORIGINS];
  const items = value
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  if (items.length === 1 && items[0] === "*") return "*";
  if (items.length === 1 && items[0] === "none") return [];
  const origins: string[] = [];
  for (const item of items) {
    let origin: string | undefined;
    try {
      const u = new URL(item);
      if ((u.protocol === "http:" || u.protocol === "https:") && u.origin === item.replace(/\/$/, "")) origin = u.origin;
    } catch {
      // reported below
    }
    if (origin) origins.push(origin);
    else problem("CORS_ORIGINS", `"${item}" is not an origin (scheme://host[:port], no path), "*" or "none"`);
  }
  return origins;
}

/** The non-empty variables, with each `<NAME>_FILE` secret read into `<NAME>` (unreadable files are problems). */
function readEnv(env: NodeJS.ProcessEnv, secrets: readonly string[], problems: string[]): Record<string, string | undefined> {
  const source: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") source[k] = v;
  for (const name of secrets) {
    const file = source[`${name}_FILE`];
    if (file && source[name] === undefined) {
      try {
        source[name] = readFileSync(file, "utf8").trim();
      } catch (err) {
        problems.push(`${name}_FILE: cannot read ${file} (${(err as Error).message})`);
      }
    }
  }
  return source;
}

/** What the migration entry (`dist/migrate.js`, the k8s migration Job) needs: the database and nothing else. */
export interface MigrateConfig {
  isProduction: boolean;
  log: { level: string };
  /** The database only (one connection's work: no pool size to choose). */
  db: Pick<Config["db"], "url" | "dataDir">;
}

const MigrateEnvSchema = EnvSchema.pick({ NODE_ENV: true, LOG_LEVEL: true, DATABASE_URL: true, DATA_DIR: true });

/**
 * Parses only the migration's settings (`DATABASE_URL` / `DATABASE_URL_FILE`, `LOG_LEVEL`, `NODE_ENV`,
 * `DATA_DIR`), so the migration Job needs no JWT secret, admin password or cluster. Throws ConfigError.
 */
export function loadMigrateConfig(env: NodeJS.ProcessEnv = process.env): MigrateConfig {
  const problems: string[] = [];
  const source = readEnv(env, ["DATABASE_URL"], problems);
  const parsed = MigrateEnvSchema.safeParse(source);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === "production";
  if (isProduction && !e.DATABASE_URL) problems.push("DATABASE_URL: required when NODE_ENV=production (no embedded database)");
  if (problems.length) throw new ConfigError(problems);
  return { isProduction, log: { level: e.LOG_LEVEL }, db: { url: e.DATABASE_URL, dataDir: path.resolve(e.DATA_DIR) } };
}

/** What `npm run credentials:reencrypt` needs: the database, the credentials keys and DATA_DIR (local mode's key). */
export interface CredentialsCommandConfig {
  isProduction: boolean;
  log: { level: string };
  db: Pick<Config["db"], "url" | "dataDir">;
  credentials: Config["credentials"];
}

const CredentialsCommandEnvSchema = EnvSchema.pick({
  NODE_ENV: true,
  LOG_LEVEL: true,
  DATABASE_URL: true,
  DATA_DIR: true,
  CREDENTIALS_KEY: true,
  CREDENTIALS_OLD_KEYS: true,
});

/** Parses only the re-encryption command's settings (so it needs no JWT secret or cluster). Throws ConfigError. */
export function loadCredentialsCommandConfig(env: NodeJS.ProcessEnv = process.env): CredentialsCommandConfig {
  const problems: string[] = [];
  const source = readEnv(env, ["DATABASE_URL", "CREDENTIALS_KEY", "CREDENTIALS_OLD_KEYS"], problems);
  const parsed = CredentialsCommandEnvSchema.safeParse(source);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === "production";
  if (isProduction && !e.DATABASE_URL) problems.push("DATABASE_URL: required when NODE_ENV=production (no embedded database)");
  const credentials = parseCredentialsKeys(e, isProduction, (variable, message) => problems.push(`${variable}: ${message}`));
  if (problems.length) throw new ConfigError(problems);
  return {
    isProduction,
    log: { level: e.LOG_LEVEL },
    db: { url: e.DATABASE_URL, dataDir: path.resolve(e.DATA_DIR) },
    credentials,
  };
}

/** Parses the environment once. Throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const source = readEnv(env, FILE_SECRETS, problems);
  const parsed = ConfigSchema.safeParse(source);
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
