import type { ServiceProfile } from "./profile.js";

const VOLUME = "/var/lib/postgresql/data";

/**
 * PostgreSQL (official image `postgres`): listens on 5432, runs as postgres (999). The entrypoint
 * supports a non-root uid as long as PGDATA is a directory it can create itself, hence the
 * subdirectory of the volume (a fresh volume root is owned by root and may hold lost+found).
 */
export const postgresqlProfile: ServiceProfile = {
  workloadKind: "StatefulSet",
  http: false,
  // A database has no business calling out; clients come in through its Service.
  internetEgress: false,
  portName: "postgres",
  uid: 999,
  gid: 999,
  dataMountPath: VOLUME,
  // Postgres writes only to PGDATA, its socket directory and /tmp.
  readOnlyRootFilesystem: true,
  writableDirs: ["/tmp", "/var/run/postgresql"],
  config: (spec) => ({
    PGDATA: `${VOLUME}/pgdata`,
    // The server reads PGPORT as its default port, and pg_isready uses it too.
    PGPORT: String(spec.service.port),
  }),
  probes: () => {
    // The user and database live in the Secret; the probe reads them from the container's env.
    // -h 127.0.0.1: the entrypoint's init-time server listens only on the socket, so a TCP check
    // is ready only once the real server is up.
    const exec = {
      command: ["sh", "-c", 'exec pg_isready -h 127.0.0.1 -p "$PGPORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB"'],
    };
    return {
      // initdb on a slow volume can take a while on first boot.
      startup: { exec, periodSeconds: 10, failureThreshold: 30, timeoutSeconds: 5 },
      readiness: { exec, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
      liveness: { exec, periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 },
    };
  },
  // A clean shutdown writes a checkpoint; killing it early means crash recovery on next start.
  terminationGracePeriodSeconds: 60,
};
