import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { postgresTls } from "../../src/modules/instances/postgres-tls.js";

const plain = "postgresql://app:pw@db-svc.user-1.svc.cluster.local:5432/app";

describe("PostgreSQL connection details and TLS", () => {
  it("say sslmode=disable where the cluster offers no TLS (the default)", () => {
    expect(postgresTls("disable", plain)).toEqual({
      sslmode: "disable",
      tls: {
        offered: false,
        connectionString: null,
        note: "This cluster does not offer TLS for PostgreSQL instances: connect with sslmode=disable from inside the cluster, or through a tunnel (kubectl port-forward, VPN) from outside.",
      },
    });
  });

  it("give the sslmode and a connection string with it where the operator declares TLS (POSTGRES_TLS_SSLMODE)", () => {
    expect(postgresTls("verify-full", plain)).toEqual({
      sslmode: "verify-full",
      tls: {
        offered: true,
        connectionString: `${plain}?sslmode=verify-full`,
        note: "This cluster offers TLS for PostgreSQL instances: connect with sslmode=verify-full (with the cluster's CA certificate as sslrootcert).",
      },
    });
    expect(postgresTls("require", `${plain}?application_name=x`).tls.connectionString).toBe(`${plain}?application_name=x&sslmode=require`);
  });

  it("POSTGRES_TLS_SSLMODE defaults to disable and accepts only libpq's TLS modes", () => {
    const base = { NODE_ENV: "test", JWT_SECRET: "x".repeat(40), ADMIN_PASSWORD: "admin-password-123" };
    expect(loadConfig(base).kube.postgresTlsSslmode).toBe("disable");
    expect(loadConfig({ ...base, POSTGRES_TLS_SSLMODE: "verify-full" }).kube.postgresTlsSslmode).toBe("verify-full");
    expect(() => loadConfig({ ...base, POSTGRES_TLS_SSLMODE: "prefer" })).toThrow();
  });
});
