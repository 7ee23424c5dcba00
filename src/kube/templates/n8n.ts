import type { ServiceProfile } from "./profile.js";

/** n8n (official image `n8nio/n8n`): listens on 5678, data in /home/node/.n8n, runs as node (1000). */
export const n8nProfile: ServiceProfile = {
  workloadKind: "Deployment",
  http: true,
  // Workflows call external APIs and receive webhooks: n8n is useless without outbound traffic.
  internetEgress: true,
  portName: "http",
  ids: () => ({ uid: 1000, gid: 1000 }),
  dataMountPath: "/home/node/.n8n",
  // n8n writes caches under the home directory and node-gyp/npm paths for community nodes;
  // a read-only root breaks those, so we keep it writable and give /tmp its own emptyDir.
  readOnlyRootFilesystem: false,
  writableDirs: ["/tmp"],
  config: (spec) => ({
    N8N_HOST: spec.host,
    N8N_PORT: String(spec.service.port),
    N8N_PROTOCOL: "https",
    WEBHOOK_URL: `https://${spec.host}/`,
    N8N_EDITOR_BASE_URL: `https://${spec.host}/`,
    // Behind exactly one proxy (the ingress controller): trust its X-Forwarded-* headers.
    N8N_PROXY_HOPS: "1",
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: "true",
    N8N_DIAGNOSTICS_ENABLED: "false",
    N8N_PERSONALIZATION_ENABLED: "false",
  }),
  probes: () => {
    const get = { path: "/healthz", port: "http" };
    return {
      // First boot runs database migrations; give it up to 5 minutes before liveness applies.
      startup: { httpGet: get, periodSeconds: 10, failureThreshold: 30, timeoutSeconds: 5 },
      readiness: { httpGet: get, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
      liveness: { httpGet: get, periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 },
    };
  },
  terminationGracePeriodSeconds: 30,
};
