-- Backups: a VolumeSnapshot (snapshot.storage.k8s.io/v1) of an instance's PVC per row. PENDING until the
-- snapshot is readyToUse (READY, with the size a restore needs) or fails (FAILED, with the reason).
-- The backup loop creates and watches the snapshots; a delete request is carried out by the loop too.
CREATE TYPE "BackupStatus" AS ENUM ('PENDING', 'READY', 'FAILED');

CREATE TABLE "backups" (
    "id" TEXT NOT NULL,
    "instance_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "status" "BackupStatus" NOT NULL DEFAULT 'PENDING',
    "reason" TEXT,
    "trigger" TEXT NOT NULL DEFAULT 'manual',
    "namespace" TEXT NOT NULL,
    "pvc_name" TEXT NOT NULL,
    "snapshot_name" TEXT NOT NULL,
    "snapshot_class" TEXT NOT NULL,
    "size_bytes" BIGINT,
    "snapshot_created_at" TIMESTAMPTZ(3),
    "deadline" TIMESTAMPTZ(3) NOT NULL,
    "ready_at" TIMESTAMPTZ(3),
    "failed_at" TIMESTAMPTZ(3),
    "quiesce" BOOLEAN NOT NULL DEFAULT false,
    "quiesced_at" TIMESTAMPTZ(3),
    "delete_requested_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "backups_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "backups_snapshot_name_key" ON "backups"("snapshot_name");

CREATE INDEX "backups_instance_id_created_at_idx" ON "backups"("instance_id", "created_at");

CREATE INDEX "backups_status_idx" ON "backups"("status");

ALTER TABLE "backups" ADD CONSTRAINT "backups_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

