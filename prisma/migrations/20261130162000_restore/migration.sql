-- Restore from a backup (POST /api/instances/:id/restore): RESTORING while the workload is switched to
-- a new PVC made from the backup's VolumeSnapshot. volume_claim is the PVC in use (null: <name>-pvc) and
-- volume_snapshot the snapshot it was made from (its immutable dataSource);
-- restore_claim/restore_snapshot describe a restore in progress (the old claim is kept until it runs).
ALTER TYPE "InstanceStatus" ADD VALUE 'RESTORING';

ALTER TABLE "instances" ADD COLUMN "volume_claim" TEXT,
ADD COLUMN "volume_snapshot" TEXT,
ADD COLUMN "restore_claim" TEXT,
ADD COLUMN "restore_snapshot" TEXT;
