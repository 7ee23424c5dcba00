#!/usr/bin/env bash
# Runs rest/end-to-end-test.rest (httpyac, with assertions) against a freshly started local-mode server:
# embedded PGlite in a new DATA_DIR, the built-in Kubernetes API emulator, a free port. Any failed
# assertion (or request) fails the script. Then runs the REST Client-syntax files (auth, credits,
# subscriptions, instance, instance-stop-start, backups, backup-retention, upgrades, admin/health) unchanged
# through httpyac (.httpyac.config.cjs resolves REST Client's request variables and polls the requests
# marked `# @waitFor`) and fails unless every request answered as the file says
# (scripts/rest-client-check.mjs). Usage: bash scripts/rest-e2e.sh   (npm run test:rest)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/local-server.sh
source scripts/lib/local-server.sh
start_local_server e2e
echo "==> ready; running rest/end-to-end-test.rest"

node_modules/.bin/httpyac send rest/end-to-end-test.rest --all --bail \
  --var baseUrl="$BASE_URL" --var adminEmail="$ADMIN_EMAIL" --var adminPassword="$ADMIN_PASSWORD" \
  --output short --output-failed exchange

echo "==> rest/end-to-end-payments.rest (local mode only: the development payment provider)"
node_modules/.bin/httpyac send rest/end-to-end-payments.rest --all --bail \
  --var baseUrl="$BASE_URL" --output short --output-failed exchange

# The developer files, as VS Code's REST Client would send them top to bottom. `host` and
# `adminPassword` are what a REST Client environment provides (README: "Developer requests").
rest_client() {
  local file=$1; shift
  echo "==> $file (REST Client syntax)"
  node_modules/.bin/httpyac send "$file" --all --json \
    --var host="$BASE_URL" --var adminPassword="$ADMIN_PASSWORD" 2>/dev/null \
    | node scripts/rest-client-check.mjs "$file" "$@"
}
rest_client rest/auth.rest
rest_client rest/credits.rest
rest_client rest/subscriptions.rest
# instance.rest works on the user's newest live instance: buy one and wait until it is RUNNING.
TOKEN=$(curl -fsS "$BASE_URL/api/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"dev@example.com","password":"dev-password-123"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
PLAN=$(curl -fsS "$BASE_URL/api/services/ghost" | node -pe 'JSON.parse(require("fs").readFileSync(0)).service.plans[0].id')
INSTANCE=$(curl -fsS "$BASE_URL/api/instances" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"planId\":\"$PLAN\",\"name\":\"rest client\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).instance.id')
for i in $(seq 1 120); do
  STATUS=$(curl -fsS "$BASE_URL/api/instances/$INSTANCE" -H "Authorization: Bearer $TOKEN" | node -pe 'JSON.parse(require("fs").readFileSync(0)).instance.status')
  [[ $STATUS == RUNNING ]] && break
  if [[ $i -eq 120 ]]; then echo "instance not RUNNING after 60 s (last: $STATUS)"; exit 1; fi
  sleep 0.5
done
# `restart` follows the plan change at once, while the instance is UPDATING: 409 INVALID_STATE.
rest_client rest/instance.rest restart=409
# These wait on the cluster between requests (`# @waitFor`, polled by .httpyac.config.cjs): stop/start and
# backup/restore on the same instance, then a deleted instance's retained backup restored into a new one.
rest_client rest/instance-stop-start.rest
rest_client rest/backups.rest
# Nothing is left to give up after the restore took the retained backup: 404 in sequence.
rest_client rest/backup-retention.rest releaseRetained=404
# upgrades.rest works on the newest instance: a PostgreSQL one (16.9 -> 16.10; 16 -> 17 is refused, 409).
PG_PLAN=$(curl -fsS "$BASE_URL/api/services/postgresql" | node -pe 'JSON.parse(require("fs").readFileSync(0)).service.plans[0].id')
curl -fsS "$BASE_URL/api/instances" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"planId\":\"$PG_PLAN\",\"name\":\"rest upgrade\"}" >/dev/null
rest_client rest/upgrades.rest majorUpgrade=409
rest_client rest/admin/health.rest
# After upgrades.rest (which upgrades to 16.10): a new PostgreSQL 16 minor version, then deactivated.
rest_client rest/admin/versions.rest
echo "==> rest e2e passed"
