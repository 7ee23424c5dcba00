#!/usr/bin/env bash
# The typed-client proof: starts a local-mode server (embedded PGlite in a fresh DATA_DIR, the built-in
# Kubernetes API emulator, a free port), generates TypeScript types from its /openapi.json with
# openapi-typescript, type-checks examples/typed-client/flow.ts against them and runs it (openapi-fetch:
# register, admin credit grant, list services, subscribe, wait for RUNNING, read credentials).
# Usage: bash scripts/typed-client.sh   (npm run example:typed-client)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/local-server.sh
source scripts/lib/local-server.sh
OUT=examples/typed-client/generated
start_local_server typed

echo "==> generating types from $BASE_URL/openapi.json"
mkdir -p "$OUT"
curl -fsS "$BASE_URL/openapi.json" -o "$OUT/openapi.json"
node_modules/.bin/openapi-typescript "$OUT/openapi.json" --output "$OUT/schema.d.ts"

echo "==> type-checking examples/typed-client"
node_modules/.bin/tsc -p examples/typed-client/tsconfig.json

echo "==> running the typed client"
BASE_URL="$BASE_URL" ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  node node_modules/tsx/dist/cli.mjs examples/typed-client/flow.ts
