-- Payments: credit packages for sale, purchases made through a checkout (Stripe, or the local
-- development provider), the ledger entry types they post, and the debt a refund leaves when the
-- credits it takes back were already spent.

-- New ledger entry types (not used in this migration: a new enum value cannot be used in the
-- transaction that adds it).
ALTER TYPE "CreditTransactionType" ADD VALUE 'PURCHASE';
ALTER TYPE "CreditTransactionType" ADD VALUE 'PURCHASE_REFUND';
ALTER TYPE "CreditTransactionType" ADD VALUE 'DEBT_REPAYMENT';

-- CreateEnum
CREATE TYPE "PurchaseStatus" AS ENUM ('PENDING', 'PAID', 'FAILED', 'REFUNDED');

-- A refund never makes the balance negative: what it cannot take back is owed instead.
ALTER TABLE "users" ADD COLUMN "credit_debt" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "users" ADD CONSTRAINT "users_credit_debt_nonnegative" CHECK ("credit_debt" >= 0);

-- CreateTable
CREATE TABLE "credit_packages" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "credits" INTEGER NOT NULL,
    "amount" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "credit_packages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "purchases" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "package_id" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "status" "PurchaseStatus" NOT NULL DEFAULT 'PENDING',
    "credits" INTEGER NOT NULL,
    "amount" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "checkout_session_id" TEXT,
    "checkout_url" TEXT,
    "payment_intent_id" TEXT,
    "receipt_url" TEXT,
    "failure_reason" TEXT,
    "refunded_amount" INTEGER NOT NULL DEFAULT 0,
    "credits_reversed" INTEGER NOT NULL DEFAULT 0,
    "credits_owed" INTEGER NOT NULL DEFAULT 0,
    "paid_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "purchases_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "credit_packages_slug_key" ON "credit_packages"("slug");

-- CreateIndex
CREATE UNIQUE INDEX "purchases_checkout_session_id_key" ON "purchases"("checkout_session_id");

-- CreateIndex
CREATE UNIQUE INDEX "purchases_payment_intent_id_key" ON "purchases"("payment_intent_id");

-- CreateIndex
CREATE INDEX "purchases_user_id_created_at_idx" ON "purchases"("user_id", "created_at");

-- AddForeignKey
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_package_id_fkey" FOREIGN KEY ("package_id") REFERENCES "credit_packages"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Packages and purchases are positive money; refunds never exceed what was paid or bought.
ALTER TABLE "credit_packages" ADD CONSTRAINT "credit_packages_positive" CHECK ("credits" > 0 AND "amount" > 0 AND "currency" ~ '^[a-z]{3}$');
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_amounts_valid" CHECK (
  "credits" > 0 AND "amount" > 0 AND "refunded_amount" >= 0 AND "refunded_amount" <= "amount"
  AND "credits_reversed" >= 0 AND "credits_owed" >= 0 AND "credits_reversed" + "credits_owed" <= "credits"
);
