-- Drift detection (issue 13): per owned cluster object, its resourceVersion and a hash of the fields
-- the control plane's field manager owned right after its last server-side apply
-- ({"ConfigMap/blog-config": "<resourceVersion> <hash>", ...}). The health sweep compares them with
-- metadata-only LISTs: an object nobody wrote since is unchanged; otherwise a field edited, removed
-- or taken over by anyone else changes the hash of its managedFields. NULL: not recorded yet (applied before
-- this version); such objects are only checked for existence until their next apply.
ALTER TABLE "instances" ADD COLUMN "applied_fields" JSONB;
ALTER TABLE "users" ADD COLUMN "tenant_applied_fields" JSONB;
