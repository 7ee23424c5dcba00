-- Version upgrades (PUT /api/instances/:id/version): image versions per service with their allowed upgrade
-- paths (admin-managed catalog data), the version each instance runs, and the upgrade in progress.
-- UPGRADING: the new image rolls out after a pre-upgrade snapshot; rolled back (snapshot restored) if it never runs.
ALTER TYPE "InstanceStatus" ADD VALUE 'UPGRADING';

CREATE TABLE "service_versions" (
    "id" TEXT NOT NULL,
    "service_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "image" TEXT NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "is_default" BOOLEAN NOT NULL DEFAULT false,
    "upgrade_from" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "notes" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "service_versions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "service_versions_service_id_version_key" ON "service_versions"("service_id", "version");

-- At most one default version per service.
CREATE UNIQUE INDEX "service_versions_one_default_key" ON "service_versions" ("service_id") WHERE "is_default";

ALTER TABLE "service_versions" ADD CONSTRAINT "service_versions_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "instances" ADD COLUMN "version" TEXT,
ADD COLUMN "image" TEXT,
ADD COLUMN "upgrade_to_version" TEXT,
ADD COLUMN "upgrade_backup_id" TEXT,
ADD COLUMN "upgrade_from_version" TEXT,
ADD COLUMN "upgrade_from_image" TEXT;

-- The backup loop looks for upgrades waiting on their pre-upgrade backup every pass (few rows).
CREATE INDEX "instances_upgrade_to_version_idx" ON "instances"("upgrade_to_version");

-- Every existing service's current image is its default version; every existing instance runs it.
INSERT INTO "service_versions" ("id", "service_id", "version", "image", "is_active", "is_default", "upgrade_from", "notes", "created_at", "updated_at")
SELECT 'sv' || md5(s."id" || ':' || s."version"), s."id", s."version", s."image", true, true, ARRAY[]::TEXT[], '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
  FROM "services" s;

UPDATE "instances" i SET "version" = s."version", "image" = s."image" FROM "services" s WHERE s."id" = i."service_id";
