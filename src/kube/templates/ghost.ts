import type { ServiceProfile } from "./profile.js";

const CONTENT = "/var/lib/ghost/content";

/**
 * Ghost (official image `ghost`): listens on 2368, content (and the SQLite database) under
 * /var/lib/ghost/content, runs as node (1000) when started non-root. SQLite keeps one instance
 * to one volume; Ghost recommends MySQL 8 for production (see README).
 */
export const ghostProfile: ServiceProfile = {
  workloadKind: "Deployment",
  http: true,
  // Sends mail, fetches themes/integrations and oEmbed previews.
  internetEgress: true,
  portName: "http",
  ids: () => ({ uid: 1000, gid: 1000 }),
  dataMountPath: CONTENT,
  // Ghost writes only to content/ and /tmp, but its bundled sharp/sqlite3 natives are located at
  // runtime under the install dir; keep the root writable to be safe, /tmp on an emptyDir.
  readOnlyRootFilesystem: false,
  writableDirs: ["/tmp"],
  config: (spec) => ({
    url: `https://${spec.host}`,
    NODE_ENV: "production",
    server__host: "0.0.0.0",
    server__port: String(spec.service.port),
    database__client: "sqlite3",
    database__connection__filename: `${CONTENT}/data/ghost.db`,
    // Without a configured transport Ghost tries direct SMTP delivery; keep that default explicit.
    mail__transport: "Direct",
  }),
  probes: () => {
    // Ghost redirects plain-http requests to its https `url` (a 301 counts as success for the
    // kubelet, but would hide a broken app); saying the request came through TLS gets a real answer.
    const get = {
      path: "/ghost/api/admin/site/",
      port: "http",
      httpHeaders: [{ name: "X-Forwarded-Proto", value: "https" }],
    };
    return {
      // First boot creates the database and copies themes: can take minutes on a small CPU plan.
      startup: { httpGet: get, periodSeconds: 10, failureThreshold: 30, timeoutSeconds: 5 },
      readiness: { httpGet: get, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
      liveness: { httpGet: get, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 },
    };
  },
  terminationGracePeriodSeconds: 30,
};
