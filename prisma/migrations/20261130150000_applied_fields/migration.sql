-- Drift detection (issue 13): per owned cluster object, a hash of the fields the control plane's
-- field manager owned right after its last server-side apply ({"ConfigMap/blog-config": "<hash>", ...}).
-- The health sweep compares them with the managedFields of metadata-only LISTs: a field edited,
-- removed or taken over by anyone else changes the hash. NULL: not recorded yet (applied before
-- this version); such objects are only checked for existence until their next apply.
ALTER TABLE "instances" ADD COLUMN "applied_fields" JSONB;
ALTER TABLE "users" ADD COLUMN "tenant_applied_fields" JSONB;
