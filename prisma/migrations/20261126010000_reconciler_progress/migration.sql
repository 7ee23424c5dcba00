-- Reconciler progress: when a transition started (image-pull and rollout deadlines are measured from
-- it) and which generation's manifests were applied in full.
ALTER TABLE "instances" ADD COLUMN "transition_started_at" TIMESTAMPTZ(3);
ALTER TABLE "instances" ADD COLUMN "applied_generation" INTEGER NOT NULL DEFAULT 0;
