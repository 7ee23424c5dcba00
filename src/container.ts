/**
 * The composition root: config -> logger -> database -> cluster -> services -> loops, assembled once.
 * Tests build the same container with overrides (an in-memory database, a manual clock, ...).
 */
import type { Config } from "./config/index.js";
import { AuthService } from "./modules/auth/auth.service.js";
import { seedCatalog } from "./modules/catalog/catalog.seed.js";
import { CatalogService } from "./modules/catalog/catalog.service.js";
import { type Clock, systemClock } from "./platform/clock.js";
import { createDatabase, type Database } from "./platform/db/index.js";
import { migrate } from "./platform/db/migrator.js";
import type { AccessTokenOptions } from "./platform/http/auth.js";
import { loadOrCreateLocalSecrets } from "./platform/local-secrets.js";
import { CredentialsCipher, loadOrCreateLocalCredentialsKey } from "./platform/credentials-cipher.js";
import { InstanceCredentialsStore } from "./modules/instances/instance-credentials.js";
import { createLogger, type Logger } from "./platform/logger.js";
import { Metrics } from "./platform/metrics.js";
import { RenewalLoop } from "./loops/renewal.js";
import { CreditsService } from "./modules/credits/credits.service.js";
import { LedgerService } from "./modules/credits/ledger.service.js";
import { QuotaService } from "./modules/quotas/quotas.service.js";
import { BillingService } from "./modules/subscriptions/billing.service.js";
import { SubscriptionsService } from "./modules/subscriptions/subscriptions.service.js";
import { UsersService } from "./modules/users/users.service.js";
import { IdempotencyService } from "./platform/idempotency.js";
import { LeaseManager } from "./platform/lease.js";
import type { InstanceSignal } from "./platform/signals.js";
import { setMaxListeners } from "node:events";
import path from "node:path";
import { KubeClient, type KubeClientOptions } from "./kube/client.js";
import { createKubeConfig } from "./kube/kubeconfig.js";
import type { KubeEmulator } from "@minispod/kube-emulator";
import { Reconciler } from "./loops/reconciler.js";
import { InstanceManifests } from "./modules/instances/instance-manifests.js";
import { InstancesService } from "./modules/instances/instances.service.js";
import { KubeInstanceCluster } from "./modules/instances/kube-instance-cluster.js";
import { HealthLoop } from "./loops/health-sweep.js";
import { HealthService } from "./modules/health/health.service.js";
import { HealthRepository } from "./modules/health/health.repository.js";
import { HealthSweeper } from "./modules/health/health.sweeper.js";
import { InstanceEventHub } from "./modules/instances/instance-event-hub.js";
import { StreamLimits } from "./modules/instances/stream-limits.js";
import { StreamTickets } from "./modules/instances/stream-tickets.js";
import { ClusterContact, pingWithin, READY_DB_TIMEOUT_MS, type ReadinessChecks } from "./platform/readiness.js";
import type { CheckoutProvider, WebhookVerifier } from "./modules/payments/checkout-provider.js";
import { DevelopmentCheckoutProvider } from "./modules/payments/dev.provider.js";
import { CreditPackagesService } from "./modules/payments/packages.service.js";
import { PaymentsService } from "./modules/payments/payments.service.js";
import { AuditService } from "./modules/audit/audit.service.js";
import { SessionRevocations } from "./modules/auth/session-revocations.js";
import { FleetCache, KubeFleetReader } from "./modules/health/kube-fleet-reader.js";
import { BackupLoop } from "./loops/backups.js";
import { BackupSchedule } from "./modules/backups/backup-schedule.js";
import { storedOverdueCountSql } from "./modules/backups/backup-schedule.sql.js";
import { instanceCountsSql } from "./modules/health/health.sql.js";
import { KubeBackupCluster } from "./modules/backups/backup-cluster.js";
import { BackupsService } from "./modules/backups/backups.service.js";
import { ServiceVersionsService } from "./modules/catalog/service-versions.service.js";
import { CatalogCache } from "./modules/catalog/catalog-cache.js";
import { UpgradesService } from "./modules/upgrades/upgrades.service.js";
import { TenantTeardown } from "./loops/reconciler/tenant-teardown.js";
import { RetainedBackupsService } from "./modules/backups/retained-backups.service.js";

export interface Readiness {
  /** The database answered: this replica can serve. The cluster is reported only (platform/readiness.ts). */
  ready: boolean;
  checks: ReadinessChecks;
}

export interface Container {
  config: Config;
  logger: Logger;
  clock: Clock;
  db: Database;
  accessTokenOptions: AccessTokenOptions;
  services: {
    auth: AuthService;
    catalog: CatalogService;
    /** Plans, services and default versions in memory (CATALOG_CACHE_TTL; cleared by this replica's admin writes). */
    catalogCache: CatalogCache;
    ledger: LedgerService;
    credits: CreditsService;
    quotas: QuotaService;
    billing: BillingService;
    subscriptions: SubscriptionsService;
    users: UsersService;
    instances: InstancesService;
    /** Instance credentials, encrypted in the database (the reconciler renders Secrets from them). */
    credentials: InstanceCredentialsStore;
    health: HealthService;
    payments: PaymentsService;
    creditPackages: CreditPackagesService;
    audit: AuditService;
    /** Revoked login sessions, in memory on every replica (kept current by a short poll). */
    revocations: SessionRevocations;
    backups: BackupsService;
    /** Image versions per service and their upgrade paths (admin catalog). */
    serviceVersions: ServiceVersionsService;
    /** Version upgrades of instances (GET /versions, PUT /version). */
    upgrades: UpgradesService;
    retainedBackups: RetainedBackupsService;
  };
  /** Stripe's webhook verifier, present when Stripe is configured (payments). */
  paymentsWebhookVerifier?: WebhookVerifier;
  kube: {
    client: KubeClient;
    /** Present in emulated mode: the in-process Kubernetes API emulator (a test/demo fixture). */
    emulator?: KubeEmulator;
  };
  /** How services tell the reconciler an instance's desired state changed. */
  signal: InstanceSignal;
  loops: { renewal: RenewalLoop; reconciler: Reconciler; health: HealthLoop; backups: BackupLoop };
  /** Live responses: the one shared event poller, per-user caps, and EventSource tickets. */
  streams: { hub: InstanceEventHub; limits: StreamLimits; tickets: StreamTickets };
  /**
   * Prometheus metrics on this container's own registry (`GET /metrics`). Producers use its hooks:
   * the reconciler (`ReconcilerMetrics`), the cluster client (`kubeCall`), and the health sweep
   * (`metrics.observeSweep(durationMs, ok)`, once per sweep).
   */
  metrics: Metrics;
  readiness(): Promise<Readiness>;
  /** Starts the background loops (reconciler, health, renewal) when enabled. */
  startLoops(): Promise<void>;
  /** Stops loops, then closes the cluster and database connections. */
  close(): Promise<void>;
  /** Aborted when shutdown begins: long-lived responses (event streams, log follows) end themselves. */
  shutdownSignal: AbortSignal;
  beginShutdown(): void;
}

export interface ContainerOverrides {
  logger?: Logger;
  clock?: Clock;
  db?: Database;
  signal?: InstanceSignal;
  /** Wraps the signal the services use (tests record it). */
  wrapSignal?: (signal: InstanceSignal) => InstanceSignal;
  /** A cluster client to use instead of the configured one (tests sharing an emulator). */
  kube?: { client: KubeClient; emulator?: KubeEmulator };
  /** Reconciler tuning for tests (e.g. short leases). */
  reconciler?: Partial<ConstructorParameters<typeof Reconciler>[0]>;
}

/**
 * The payment provider: Stripe with STRIPE_SECRET_KEY, the development page in local mode, else none.
 * The Stripe adapter (and with it the `stripe` library, ~200 modules) is imported only when configured.
 */
async function buildPayments(config: Config, logger: Logger): Promise<{ provider?: CheckoutProvider; verifier?: WebhookVerifier }> {
  const p = config.payments;
  if (p.provider === "stripe" && p.stripeWebhookSecret) {
    const { createStripeClient, StripeCheckoutProvider, StripeWebhookVerifier } = await import("./modules/payments/stripe.provider.js");
    const stripe = createStripeClient(p);
    logger.info(
      { stripeApi: p.stripeApi ? `${p.stripeApi.protocol}://${p.stripeApi.host}:${p.stripeApi.port}` : "api.stripe.com" },
      "payments: Stripe Checkout (webhook at POST /api/webhooks/stripe)",
    );
    return { provider: new StripeCheckoutProvider(stripe), verifier: new StripeWebhookVerifier(stripe, p.stripeWebhookSecret) };
  }
  if (p.provider === "development") {
    logger.warn("payments: DEVELOPMENT provider (no STRIPE_SECRET_KEY, local mode): checkouts complete on a local page and no money moves");
    return { provider: new DevelopmentCheckoutProvider() };
  }
  logger.warn(
    "payments are NOT configured (STRIPE_SECRET_KEY unset in production): POST /api/credits/checkout answers 503 PAYMENTS_NOT_CONFIGURED",
  );
  return {};
}

/** The cluster: the configured one, or (emulated mode) a fresh emulator whose kubeconfig is written to DATA_DIR. */
async function buildKube(
  config: Config,
  logger: Logger,
  onCall: KubeClientOptions["onCall"],
): Promise<{ client: KubeClient; emulator?: KubeEmulator }> {
  const clientOptions = { logger, requestTimeoutMs: config.kube.requestTimeoutMs, onCall };
  if (config.kube.mode === "emulated") {
    const { KubeEmulator } = await import("@minispod/kube-emulator");
    const emulator = await KubeEmulator.start({
      port: config.kube.emulatorPort,
      podReadyDelayMs: config.kube.emulatorPodReadyDelayMs,
      snapshotReadyDelayMs: config.kube.emulatorSnapshotReadyDelayMs,
      ingressControllerNamespace: config.kube.ingressControllerNamespace,
      // The ingress controller's namespace exists, so tenant policies that select it (ACME HTTP-01) resolve.
      namespaces: [...new Set(["default", "kube-system", "kube-public", "kube-node-lease", config.kube.ingressControllerNamespace])],
    });
    const kubeconfigPath = path.join(config.db.dataDir, "kubeconfig");
    await emulator.writeKubeconfig(kubeconfigPath);
    logger.info(
      { url: emulator.url, kubeconfig: kubeconfigPath },
      `using the built-in Kubernetes API emulator (test/demo fixture, not a real cluster); try: kubectl --kubeconfig ${kubeconfigPath} get pods -A`,
    );
    const kubeConfig = createKubeConfig({ mode: "emulated", kubeconfigYaml: emulator.kubeconfigYaml() });
    return { client: new KubeClient({ ...clientOptions, kubeConfig }), emulator };
  }
  const kubeConfig = createKubeConfig({
    mode: "cluster",
    kubeconfigPath: config.kube.kubeconfigPath,
    skipTlsVerify: config.kube.dangerouslySkipTlsVerify,
    requireVerifiedTls: config.isProduction,
  });
  logger.info({ server: kubeConfig.getCurrentCluster()?.server }, "using Kubernetes cluster");
  return { client: new KubeClient({ ...clientOptions, kubeConfig }) };
}

/** The credentials key: configured, or (local mode only) generated once into DATA_DIR/credentials.key. */
function credentialsCipher(config: Config, logger: Logger): CredentialsCipher {
  let key = config.credentials.key;
  if (!key) {
    if (config.isProduction) throw new Error("CREDENTIALS_KEY is required");
    const local = loadOrCreateLocalCredentialsKey(config.db.dataDir);
    key = local.key;
    logger.info(
      { file: local.path },
      local.created ? "local mode: credentials key generated into the data dir" : "local mode: credentials key read from the data dir",
    );
  }
  return new CredentialsCipher(key, config.credentials.oldKeys);
}

export async function buildContainer(config: Config, overrides: ContainerOverrides = {}): Promise<Container> {
  const logger = overrides.logger ?? createLogger({ level: config.log.level });
  const clock = overrides.clock ?? systemClock;
  const localMode = !config.isProduction;

  // Secrets: configured, or (local mode only) generated once and kept in DATA_DIR.
  let jwtSecret = config.auth.jwtSecret;
  let adminPassword = config.admin.password;
  if ((!jwtSecret || !adminPassword) && localMode) {
    const local = loadOrCreateLocalSecrets(config.db.dataDir);
    jwtSecret ??= local.secrets.jwtSecret;
    if (!adminPassword) {
      adminPassword = local.secrets.adminPassword;
      logger.info({ file: local.path }, `local mode: admin password for ${config.admin.email} is kept in ${local.path}`);
    }
    if (!config.auth.jwtSecret) logger.info({ file: local.path }, "local mode: JWT secret generated and kept in the data dir");
  }
  if (!jwtSecret) throw new Error("JWT_SECRET is required");
  const cipher = credentialsCipher(config, logger);

  const db =
    overrides.db ??
    (await createDatabase(
      config.db.url ? { url: config.db.url, poolSize: config.db.poolSize } : { pgliteDir: `${config.db.dataDir}/pglite` },
    ));
  logger.info({ database: db.location }, db.kind === "pglite" ? "using embedded PGlite database (local mode)" : "using PostgreSQL");
  const applied = await migrate(db);
  if (applied.length) logger.info({ migrations: applied }, "applied database migrations");

  const prisma = db.prisma;
  // A key that cannot open the stored credentials stops startup here (never a silent regeneration).
  const credentialStore = new InstanceCredentialsStore(prisma, cipher, db.read);
  const stored = await credentialStore.verifyKeys();
  logger.info({ keyId: cipher.currentKeyId, storedCredentials: stored.rows }, "instance credentials key verified");
  const revocations = new SessionRevocations({
    prisma,
    clock,
    logger,
    accessTokenTtlMs: config.auth.accessTokenTtlMs,
    pollIntervalMs: config.auth.revocationPollIntervalMs,
  });
  await revocations.start();
  const accessTokenOptions: AccessTokenOptions = {
    secret: jwtSecret,
    issuer: config.auth.jwtIssuer,
    audience: config.auth.jwtAudience,
    ttlMs: config.auth.accessTokenTtlMs,
    isRevoked: revocations.isRevoked,
  };
  const audit = new AuditService({ prisma, logger });
  const auth = new AuthService({
    prisma,
    clock,
    logger,
    accessToken: accessTokenOptions,
    refreshTokenTtlMs: config.auth.refreshTokenTtlMs,
    revocations,
    audit,
  });
  const catalogCache = new CatalogCache({ prisma, ttlMs: config.catalog.cacheTtlMs });
  const catalog = new CatalogService({ prisma, audit, onChange: () => catalogCache.invalidate() });
  const ledger = new LedgerService();
  const idempotency = new IdempotencyService({ prisma, db });
  const quotas = new QuotaService({ prisma, defaults: config.quotaDefaults, audit });
  const metrics = new Metrics({
    readCounts: () => db.readCounts(),
    // One small query per scrape for both instance gauges: the trigger-kept counts (health.sql.ts), not the fleet.
    countInstances: async () =>
      (await prisma.$queryRaw<Array<{ status: string; health: string; n: number }>>(instanceCountsSql)).map((r) => ({
        status: r.status,
        health: r.health,
        count: r.n,
      })),
    // Instances with no good backup in 48 h: the count the backup loop stored (the health summary's value).
    countBackupsOverdue: async () => {
      const [row] = await prisma.$queryRaw<Array<{ n: number }>>`SELECT ${storedOverdueCountSql(clock.now())} AS "n"`;
      return row?.n ?? 0;
    },
  });
  // Every Kubernetes call is counted (metrics) and tells readiness whether the API server answered.
  const clusterContact = new ClusterContact(clock);
  const kube =
    overrides.kube ??
    (await buildKube(config, logger, (verb, resource, result) => {
      metrics.kubeCall(verb, resource, result);
      clusterContact.record(result);
    }));
  const cluster = new KubeInstanceCluster(kube.client);
  const manifests = InstanceManifests.fromConfig(config.kube);
  // The reconciler and billing need each other: billing signals the reconciler, and the reconciler's
  // refunds go through billing. The signal is resolved at call time, once both exist.
  let signal: InstanceSignal | undefined;
  const lateSignal: InstanceSignal = { instanceChanged: (id) => signal?.instanceChanged(id) };
  const billing = new BillingService({
    prisma,
    ledger,
    clock,
    signal: lateSignal,
    logger,
    gracePeriodMs: config.billing.gracePeriodMs,
  });
  const reconciler = new Reconciler({
    prisma,
    read: db.read,
    catalog: catalogCache,
    cluster,
    manifests,
    credentials: credentialStore,
    billing,
    quotas,
    clock,
    logger: logger.child({ loop: "reconciler" }),
    metrics,
    concurrency: config.reconciler.concurrency,
    leaseMs: config.reconciler.leaseMs,
    resyncIntervalMs: config.reconciler.resyncIntervalMs,
    rolloutTimeoutMs: config.reconciler.rolloutTimeoutMs,
    stuckPodGraceMs: config.reconciler.stuckPodGraceMs,
    backupRetentionAfterDeleteMs: config.backups.retentionAfterDeleteMs,
    ...overrides.reconciler,
  });
  const baseSignal = overrides.signal ?? reconciler;
  signal = overrides.wrapSignal ? overrides.wrapSignal(baseSignal) : baseSignal;
  const credits = new CreditsService({ prisma, read: db.read, ledger, idempotency, signal, topUpListener: billing, audit });
  const subscriptions = new SubscriptionsService({
    prisma,
    catalog: catalogCache,
    ledger,
    quotas,
    idempotency,
    signal,
    clock,
    baseDomain: config.baseDomain,
    audit,
  });
  const users = new UsersService({ prisma, quotas, revocations, audit, clock });
  const instances = new InstancesService({
    prisma,
    read: db.read,
    clock,
    signal,
    quotas,
    subscriptions,
    cluster,
    manifests,
    credentials: credentialStore,
    baseDomain: config.baseDomain,
    postgresSslmode: config.kube.postgresTlsSslmode,
    audit,
  });
  const backupLoop = new BackupLoop({
    prisma,
    cluster: new KubeBackupCluster(kube.client),
    leases: new LeaseManager({ prisma, clock }),
    clock,
    logger: logger.child({ loop: "backups" }),
    pollIntervalMs: config.backups.pollIntervalMs,
    timeoutMs: config.backups.timeoutMs,
    signal: lateSignal,
    metrics,
    schedule: new BackupSchedule({
      prisma,
      clock,
      manifests,
      quotas,
      snapshotClass: config.backups.snapshotClass,
      timeoutMs: config.backups.timeoutMs,
      enabled: config.backups.scheduleEnabled,
      spreadMs: config.backups.scheduleSpreadMs,
      batch: config.backups.scheduleBatch,
    }),
    teardown: new TenantTeardown({ prisma, cluster }),
  });
  const backups = new BackupsService({
    prisma,
    clock,
    manifests,
    snapshotClass: config.backups.snapshotClass,
    timeoutMs: config.backups.timeoutMs,
    quotas,
    wake: () => backupLoop.wake(),
    audit,
  });
  const serviceVersions = new ServiceVersionsService({ prisma, audit, onChange: () => catalogCache.invalidate() });
  const upgrades = new UpgradesService({ prisma, clock, signal: lateSignal, quotas, backups, audit });
  const retainedBackups = new RetainedBackupsService({ prisma, clock, wake: () => backupLoop.wake(), audit });
  const healthRepository = new HealthRepository(prisma, db.read);
  const fleetCache =
    config.health.cache === "off"
      ? undefined
      : new FleetCache({ client: kube.client, logger: logger.child({ loop: "health", component: "informer" }), mode: config.health.cache });
  const healthSweeper = new HealthSweeper({
    db,
    fleet: new KubeFleetReader(kube.client, { logger: logger.child({ loop: "health" }), ...(fleetCache ? { cache: fleetCache } : {}) }),
    manifests,
    repository: healthRepository,
    clock,
    logger: logger.child({ loop: "health" }),
    signal,
    consecutiveObservations: config.health.consecutiveObservations,
    metrics,
  });
  const healthLoop = new HealthLoop({
    repository: healthRepository,
    sweeper: healthSweeper,
    leases: new LeaseManager({ prisma, clock }),
    clock,
    logger: logger.child({ loop: "health" }),
    intervalMs: config.health.intervalMs,
    retentionMs: config.health.retentionMs,
    ...(fleetCache ? { cache: fleetCache } : {}),
  });
  const health = new HealthService({ prisma, read: db.read, clock, runner: healthLoop });
  const streams = {
    hub: new InstanceEventHub({ prisma, logger: logger.child({ component: "event-hub" }), pollMs: config.streams.pollMs }),
    limits: new StreamLimits({ events: config.streams.maxEventStreamsPerUser, logs: config.streams.maxLogFollowsPerUser }),
    tickets: new StreamTickets({ prisma, clock, ttlMs: config.streams.ticketTtlMs }),
  };
  const paymentsEdge = await buildPayments(config, logger);
  const creditPackages = new CreditPackagesService({ prisma });
  const payments = new PaymentsService({
    prisma,
    ledger,
    clock,
    logger,
    signal,
    provider: paymentsEdge.provider,
    topUpListener: billing,
    appUrl: config.payments.appUrl,
  });
  const renewal = new RenewalLoop({
    billing,
    leases: new LeaseManager({ prisma, clock }),
    logger,
    cron: config.billing.renewalCron,
    housekeeping: async () => {
      await idempotency.pruneOlderThan(new Date(clock.now().getTime() - config.billing.idempotencyRetentionMs));
      await streams.tickets.pruneExpired();
      await revocations.prune();
      await audit.pruneOlderThan(new Date(clock.now().getTime() - config.audit.retentionMs));
    },
  });

  await seedCatalog(prisma);
  await creditPackages.seed();
  if (adminPassword) {
    const created = await auth.ensureAdmin(config.admin.email, adminPassword);
    if (created) logger.info({ email: config.admin.email }, "created the first admin account");
  }

  let closed = false;
  const shutdown = new AbortController();
  // Every open event stream and log follow listens for shutdown: no listener-count warning.
  setMaxListeners(0, shutdown.signal);
  return {
    shutdownSignal: shutdown.signal,
    beginShutdown() {
      shutdown.abort();
    },
    config,
    logger,
    clock,
    db,
    accessTokenOptions,
    services: {
      auth,
      catalog,
      catalogCache,
      ledger,
      credits,
      quotas,
      billing,
      subscriptions,
      users,
      instances,
      credentials: credentialStore,
      health,
      payments,
      creditPackages,
      audit,
      revocations,
      backups,
      serviceVersions,
      upgrades,
      retainedBackups,
    },
    paymentsWebhookVerifier: paymentsEdge.verifier,
    kube,
    signal,
    metrics,
    loops: { renewal, reconciler, health: healthLoop, backups: backupLoop },
    streams,
    async readiness() {
      const database = await pingWithin(() => db.ping(), READY_DB_TIMEOUT_MS);
      if (!database.ok) logger.warn({ err: database.error }, "readiness: the database did not answer");
      return { ready: database.ok, checks: { database: { ok: database.ok }, cluster: clusterContact.state() } };
    },
    async startLoops() {
      if (!config.backgroundLoops) return;
      renewal.start();
      reconciler.start();
      healthLoop.start();
      backupLoop.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      shutdown.abort();
      streams.hub.close();
      await renewal.stop();
      await healthLoop.stop();
      await backupLoop.stop();
      await reconciler.stop();
      await revocations.stop();
      if (!overrides.kube) await kube.emulator?.stop();
      if (!overrides.db) await db.close();
    },
  };
}
