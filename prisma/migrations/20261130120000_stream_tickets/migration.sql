-- Short-lived, single-use tickets that let a browser's EventSource (which cannot send an
-- Authorization header) open an instance's event stream or log follow: `?ticket=` on the stream URL.
-- Only the SHA-256 of a ticket is stored; using one deletes its row, so it works once, on any replica.
CREATE TABLE "stream_tickets" (
    "id" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "instance_id" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stream_tickets_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "stream_tickets_token_hash_key" ON "stream_tickets"("token_hash");

CREATE INDEX "stream_tickets_expires_at_idx" ON "stream_tickets"("expires_at");

ALTER TABLE "stream_tickets" ADD CONSTRAINT "stream_tickets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "stream_tickets" ADD CONSTRAINT "stream_tickets_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;
