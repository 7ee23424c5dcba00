#!/usr/bin/env bash
# The typed-client proof: starts a local-mode server (embedded PGlite in a fresh DATA_DIR, the built-in
# Kubernetes API emulator, a free port), generates TypeScript types from its /openapi.json with
# openapi-typescript, type-checks examples/typed-client/flow.ts against them and runs it (openapi-fetch:
# register, admin credit grant, list services, subscribe, wait for RUNNING, read credentials).
# Usage: bash scripts/typed-client.sh   (npm run example:typed-client)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/minispod-typed-client.XXXXXX")
PORT=$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
ADMIN_EMAIL=admin@minispod.local
ADMIN_PASSWORD="typed-admin-$(node -e 'console.log(require("node:crypto").randomBytes(12).toString("hex"))')"
BASE_URL="http://127.0.0.1:$PORT"
LOG="$DATA_DIR/server.log"
OUT=examples/typed-client/generated
SERVER_PID=""

cleanup() {
  local status=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then echo "--- server log (last 40 lines) ---"; tail -n 40 "$LOG" 2>/dev/null || true; fi
  rm -rf "$DATA_DIR"
  exit $status
}
trap cleanup EXIT

echo "==> starting the API in local mode on $BASE_URL"
NODE_ENV=development PORT=$PORT HOST=127.0.0.1 DATA_DIR="$DATA_DIR" \
  ADMIN_EMAIL=$ADMIN_EMAIL ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  K8S_MODE=emulated K8S_EMULATOR_POD_READY_DELAY="${K8S_EMULATOR_POD_READY_DELAY:-1500ms}" \
  LOG_LEVEL="${LOG_LEVEL:-warn}" BACKGROUND_LOOPS=true DATABASE_URL= \
  node node_modules/tsx/dist/cli.mjs src/index.ts >"$LOG" 2>&1 &
SERVER_PID=$!

for i in $(seq 1 360); do
  if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited before it was ready"; exit 1; fi
  if [[ $i -eq 360 ]]; then echo "server not ready after 180 s"; exit 1; fi
  sleep 0.5
done

echo "==> generating types from $BASE_URL/openapi.json"
mkdir -p "$OUT"
curl -fsS "$BASE_URL/openapi.json" -o "$OUT/openapi.json"
node_modules/.bin/openapi-typescript "$OUT/openapi.json" --output "$OUT/schema.d.ts"

echo "==> type-checking examples/typed-client"
node_modules/.bin/tsc -p examples/typed-client/tsconfig.json

echo "==> running the typed client"
BASE_URL="$BASE_URL" ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  node node_modules/tsx/dist/cli.mjs examples/typed-client/flow.ts
