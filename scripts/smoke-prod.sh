#!/usr/bin/env bash
# The production smoke test (README "Production smoke test"): builds the artifact exactly as the
# Dockerfile does, migrates a fresh PostgreSQL database the way k8s/migrate-job.yaml does, runs the API
# the way k8s/deployment.yaml does against the standalone Kubernetes API emulator, runs
# rest/end-to-end-test.rest, and checks a graceful restart. Needs this checkout's `npm ci` and a
# PostgreSQL server that lets it create a database.
# Usage: scripts/smoke-prod.sh [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
exec node node_modules/tsx/dist/cli.mjs scripts/smoke-prod/main.ts "$@"
