-- A deleted instance keeps its newest READY backup until retained_until (BACKUP_RETENTION_AFTER_DELETE):
-- its owner can restore it into a new instance of the same service until then; the backup loop deletes
-- it after, and the tenant namespace (which holds the VolumeSnapshot) once nothing else is left in it.
ALTER TABLE "backups" ADD COLUMN "retained_until" TIMESTAMPTZ(3);

CREATE INDEX "backups_user_id_retained_until_idx" ON "backups"("user_id", "retained_until");
