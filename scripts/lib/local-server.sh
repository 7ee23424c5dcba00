# Sourced by scripts that need a throwaway local-mode API: embedded PGlite in a fresh DATA_DIR, the
# built-in Kubernetes API emulator, a free port, a generated admin password. After
# `start_local_server <label>` the caller has BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, DATA_DIR and LOG;
# on exit the server is stopped (SIGTERM, then SIGKILL), its log tail printed on failure, DATA_DIR removed.

SERVER_PID=""

stop_local_server() {
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

start_local_server() {
  local label=$1
  DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/minispod-$label.XXXXXX")
  local port
  port=$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  ADMIN_EMAIL=admin@minispod.local
  ADMIN_PASSWORD="$label-admin-$(node -e 'console.log(require("node:crypto").randomBytes(12).toString("hex"))')"
  BASE_URL="http://127.0.0.1:$port"
  LOG="$DATA_DIR/server.log"
  trap stop_local_server EXIT

  echo "==> starting the API in local mode on $BASE_URL (DATA_DIR=$DATA_DIR)"
  NODE_ENV=development PORT=$port HOST=127.0.0.1 DATA_DIR="$DATA_DIR" \
    ADMIN_EMAIL=$ADMIN_EMAIL ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    K8S_MODE=emulated K8S_EMULATOR_POD_READY_DELAY="${K8S_EMULATOR_POD_READY_DELAY:-1500ms}" \
    LOG_LEVEL="${LOG_LEVEL:-warn}" BACKGROUND_LOOPS=true DATABASE_URL= \
    node node_modules/tsx/dist/cli.mjs src/index.ts >"$LOG" 2>&1 &
  SERVER_PID=$!

  local i
  for i in $(seq 1 360); do
    if curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited before it was ready"; exit 1; fi
    sleep 0.5
  done
  echo "server not ready after 180 s"
  exit 1
}
