-- The reconciler re-applies a user's tenant baseline (ResourceQuota etc.) when what it would render
-- differs from what it last applied: quota changes by an admin reach the cluster without an instance
-- change.
ALTER TABLE "users" ADD COLUMN "tenant_applied_hash" TEXT;
