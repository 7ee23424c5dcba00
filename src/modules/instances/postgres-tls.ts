/**
 * How to connect to a PostgreSQL instance with TLS, as far as this cluster offers it.
 *
 * The official `postgres` image serves no TLS by itself (no server certificate, `ssl = off`), and
 * the platform does not issue one; on such a cluster the honest answer is `sslmode=disable`: the
 * connection is plain TCP, fine inside the cluster (pod network), and to be tunnelled (e.g.
 * `kubectl port-forward`, a VPN) from outside. An operator whose cluster does offer TLS on the
 * instances' port (a TLS-terminating proxy or mesh in front of the Service, or an image configured
 * with `ssl = on`) says so with POSTGRES_TLS_SSLMODE, and the details then carry that sslmode and a
 * connection string with it.
 */
export const POSTGRES_SSLMODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type PostgresSslmode = (typeof POSTGRES_SSLMODES)[number];

export interface PostgresTlsDetails {
  sslmode: PostgresSslmode;
  tls: { offered: boolean; connectionString: string | null; note: string };
}

export function postgresTls(sslmode: PostgresSslmode, connectionString: string): PostgresTlsDetails {
  if (sslmode === "disable") {
    return {
      sslmode,
      tls: {
        offered: false,
        connectionString: null,
        note: "This cluster does not offer TLS for PostgreSQL instances: connect with sslmode=disable from inside the cluster, or through a tunnel (kubectl port-forward, VPN) from outside.",
      },
    };
  }
  const verify = sslmode === "verify-ca" || sslmode === "verify-full";
  return {
    sslmode,
    tls: {
      offered: true,
      connectionString: `${connectionString}${connectionString.includes("?") ? "&" : "?"}sslmode=${sslmode}`,
      note: `This cluster offers TLS for PostgreSQL instances: connect with sslmode=${sslmode}${verify ? " (with the cluster's CA certificate as sslrootcert)" : ""}.`,
    },
  };
}
