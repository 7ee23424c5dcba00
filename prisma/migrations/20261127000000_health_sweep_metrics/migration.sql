-- Health sweeps remember whether metrics.k8s.io answered (a cluster without metrics-server gives
-- "no usage data", which is not an error).
ALTER TABLE "health_sweeps" ADD COLUMN "metrics_available" BOOLEAN;
