-- Security hardening (issue 16): disabled accounts, revoked login sessions, and the audit log.

-- An admin can disable an account: no login, no refresh, sessions revoked.
ALTER TABLE "users" ADD COLUMN "disabled_at" TIMESTAMPTZ(3);

-- Revoked sessions (refresh-token families). Access tokens carry their session id; every replica
-- keeps the recent rows in memory (polled by revoked_at) and refuses those tokens.
CREATE TABLE "revoked_sessions" (
    "session_id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "revoked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "revoked_sessions_pkey" PRIMARY KEY ("session_id")
);
CREATE INDEX "revoked_sessions_revoked_at_idx" ON "revoked_sessions"("revoked_at");

-- The audit log: who did what to which object, from where. Append-only.
CREATE TABLE "audit_events" (
    "id" BIGSERIAL NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_id" TEXT,
    "actor_role" TEXT,
    "action" TEXT NOT NULL,
    "object_type" TEXT NOT NULL,
    "object_id" TEXT,
    "ip" TEXT,
    "request_id" TEXT,
    "details" JSONB,

    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_events_created_at_idx" ON "audit_events"("created_at");
CREATE INDEX "audit_events_actor_id_created_at_idx" ON "audit_events"("actor_id", "created_at");
CREATE INDEX "audit_events_object_type_object_id_created_at_idx" ON "audit_events"("object_type", "object_id", "created_at");
CREATE INDEX "audit_events_action_created_at_idx" ON "audit_events"("action", "created_at");

-- Append-only, enforced by the database like the credit ledger: UPDATE and TRUNCATE are always
-- refused; DELETE is refused unless it comes from audit_events_prune(), which sets the
-- transaction-local setting minispod.audit_prune_before, and only for rows older than that cutoff.
-- The cutoff itself can never be less than 1 day in the past, so even the prune function cannot
-- erase what just happened.
CREATE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cutoff TIMESTAMPTZ := NULLIF(current_setting('minispod.audit_prune_before', true), '')::timestamptz;
BEGIN
  IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND OLD."created_at" < cutoff THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'P0001';
END;
$$;
CREATE TRIGGER "audit_events_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_append_only"();
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();

-- Retention: deletes up to batch_size rows created before cutoff (at least 1 day ago); returns the count.
CREATE FUNCTION "audit_events_prune"(cutoff TIMESTAMPTZ, batch_size INTEGER) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  bounded TIMESTAMPTZ := LEAST(cutoff, now() - INTERVAL '1 day');
  deleted INTEGER;
BEGIN
  PERFORM set_config('minispod.audit_prune_before', bounded::text, true);
  DELETE FROM "audit_events" WHERE "id" IN (
    SELECT "id" FROM "audit_events" WHERE "created_at" < bounded ORDER BY "created_at" LIMIT batch_size);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('minispod.audit_prune_before', '', true);
  RETURN deleted;
END;
$$;
