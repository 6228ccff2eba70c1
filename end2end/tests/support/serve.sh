#!/usr/bin/env bash
# Starts the Gatehouse server for the browser tests on a fresh SQLite database.
set -euo pipefail
root="${GATEHOUSE_ROOT:?}"
# The main server's state is end2end/.cache; a second one (the release build, for
# release.spec.ts and the first-load test) names a folder of its own.
state="${GATEHOUSE_E2E_STATE:-$root/end2end/.cache}"
mkdir -p "$state"
rm -f "$state"/e2e.db*
export DATABASE_URL="sqlite://$state/e2e.db?mode=rwc"
# No SMTP server: mail is written here, where the tests read its links.
rm -rf "$state/outbox"
export GATEHOUSE_MAIL_OUTBOX="$state/outbox"
# The site the debug build made (hashed names: its hash file is beside the binary), or
# another one with its own hash file (GATEHOUSE_E2E_SITE, GATEHOUSE_E2E_HASH_FILE).
site="${GATEHOUSE_E2E_SITE:-$root/target/site}"
if [ ! -d "$site/pkg" ]; then
    echo "serve.sh: no site at $site: run \`make e2e\` (it builds the bundles)" >&2
    exit 1
fi
export LEPTOS_SITE_ROOT="$site"
if [ -n "${GATEHOUSE_E2E_HASH_FILE:-}" ]; then
    export LEPTOS_HASH_FILES=true LEPTOS_HASH_FILE_NAME="$GATEHOUSE_E2E_HASH_FILE"
fi
export LEPTOS_SITE_ADDR="127.0.0.1:${GATEHOUSE_E2E_PORT:-3100}"
export GATEHOUSE_PUBLIC_URL="http://localhost:${GATEHOUSE_E2E_PORT:-3100}"
# The suite signs in and up far more often than a person would.
export GATEHOUSE_RATE_SIGNIN="${GATEHOUSE_RATE_SIGNIN:-100000/1m}"
export GATEHOUSE_RATE_SIGNUP="${GATEHOUSE_RATE_SIGNUP:-100000/1m}"
export RUST_LOG="${RUST_LOG:-warn}"
# "Confirm it's you" comes after this long: short, so tests can reach it by waiting.
export GATEHOUSE_REAUTH_WINDOW="${GATEHOUSE_REAUTH_WINDOW:-10s}"
# GitHub and Google, played by tests/support/fake-oauth.mjs.
fake="http://127.0.0.1:${FAKE_OAUTH_PORT:-3101}"
export GITHUB_CLIENT_ID=e2e-github GITHUB_CLIENT_SECRET=e2e-github-secret
export GATEHOUSE_GITHUB_AUTH_URL="$fake/authorize" GATEHOUSE_GITHUB_TOKEN_URL="$fake/token" GATEHOUSE_GITHUB_API_URL="$fake"
export GOOGLE_CLIENT_ID=e2e-google GOOGLE_CLIENT_SECRET=e2e-google-secret
export GATEHOUSE_GOOGLE_AUTH_URL="$fake/authorize" GATEHOUSE_GOOGLE_TOKEN_URL="$fake/token" GATEHOUSE_GOOGLE_USERINFO_URL="$fake/userinfo"
exec "${GATEHOUSE_E2E_BIN:-$root/target/debug/gatehouse}" serve
