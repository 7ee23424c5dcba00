-- Instance credentials are data: generated once, stored encrypted (AES-256-GCM) and rendered into the
-- instance's Secret by the reconciler. `ciphertext` is `v1:<keyId>:<iv>:<tag>:<ciphertext>` (base64url),
-- `key_id` repeats its key id so rotation can find rows still under an old key.
CREATE TABLE "instance_credentials" (
    "instance_id" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "instance_credentials_pkey" PRIMARY KEY ("instance_id")
);

CREATE INDEX "instance_credentials_key_id_idx" ON "instance_credentials"("key_id");

ALTER TABLE "instance_credentials" ADD CONSTRAINT "instance_credentials_instance_id_fkey" FOREIGN KEY ("instance_id") REFERENCES "instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;
