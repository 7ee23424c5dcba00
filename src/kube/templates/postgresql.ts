import type { ServiceProfile } from "./profile.js";

const VOLUME = "/var/lib/postgresql/data";

/**
 * The official image's `postgres` user: uid/gid 999 in the Debian variants, 70 (Alpine's standard
 * id for postgres) in the `-alpine` variants — see the image's Dockerfiles (`useradd --uid=999`,
 * `adduser -u 70`). Running as the other id would leave the data directory unreadable after an image
 * variant change and breaks `initdb`'s ownership checks.
 */
export function postgresIds(image: { image: string; version: string }): { uid: number; gid: number } {
  const alpine = /(^|[-:])alpine/.test(image.version) || /:[^/]*alpine/.test(image.image);
  return alpine ? { uid: 70, gid: 70 } : { uid: 999, gid: 999 };
}

/**
 * PostgreSQL (official image `postgres`): listens on 5432, runs as postgres (see `postgresIds`). The
 * entrypoint supports a non-root uid as long as PGDATA is a directory it can create itself, hence the
 * subdirectory of the volume (a fresh volume root is owned by root and may hold lost+found).
 */
export const postgresqlProfile: ServiceProfile = {
  workloadKind: "StatefulSet",
  http: false,
  // A database has no business calling out; clients come in through its Service.
  internetEgress: false,
  portName: "postgres",
  ids: postgresIds,
  // Parallel query and large sorts use POSIX shared memory; containerd's default /dev/shm is 64 MiB,
  // which fails them with "could not resize shared memory segment". A memory-backed volume counts
  // against the container's memory limit, so it is a quarter of the plan's memory (64 MiB to 1 GiB).
  sharedMemoryMb: (spec) => Math.min(1024, Math.max(64, Math.floor(spec.plan.memoryMb / 4))),
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
