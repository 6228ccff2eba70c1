# Gatehouse. The two commands a newcomer needs:
#   make run    install what is missing, build (release) and serve on http://localhost:3000
#   make test   install what is missing and run every test (Rust + Playwright)
# Tools are installed only when missing or at the wrong version.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

CARGO_LEPTOS_VERSION := 0.3.10
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)
NPM_BIN := $(CURDIR)/end2end/node_modules/.bin
# wasm-opt (binaryen, from npm) must come first: Debian's is too old to produce a working bundle.
export PATH := $(NPM_BIN):$(HOME)/.cargo/bin:$(PATH)

# cargo-leptos builds the debug server with these variables; plain cargo commands use the
# same ones, so `cargo test`, clippy and `cargo leptos build` share one target/ directory
# instead of rebuilding each other's dependencies.
LEPTOS_ENV := LEPTOS_OUTPUT_NAME=gatehouse LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
	LEPTOS_SITE_ADDR=127.0.0.1:3000 LEPTOS_RELOAD_PORT=3001 LEPTOS_LIB_DIR=. LEPTOS_BIN_DIR=. \
	LEPTOS_JS_MINIFY=false LEPTOS_HASH_FILES=true LEPTOS_HASH_FILE_NAME=hash.txt RUSTFLAGS="--cfg erase_components" \
	RUSTDOCFLAGS="--cfg erase_components"

# Where the browser tests' release build puts its site, with its hash file: the build
# `make run` serves (same command, same binary), in a folder of its own so that the debug
# build's site beside it stays.
RELEASE_SITE := LEPTOS_SITE_ROOT=target/site-release LEPTOS_HASH_FILE_NAME=$(CURDIR)/target/site-release/hash.txt

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test dev lint fmt tools browser npm wasm-target rust-tests e2e bundles screenshots clean-e2e bench

## Build the release site and serve it on http://localhost:3000 (SQLite by default).
run: tools
	cargo leptos serve --release --precompress --split

## Every test: Rust unit and integration tests (SQLite, plus PostgreSQL when
## GATEHOUSE_TEST_POSTGRES_URL is set), then the Playwright suite (JS on and off).
test: tools browser rust-tests e2e

rust-tests:
	$(LEPTOS_ENV) cargo test --features ssr

# Most of the suite runs the debug build. The release build that `make run` serves (the
# server and the browser bundle, brotli and gzip copies made at build time) runs as a
# second server: every page must hydrate on it (release.spec.ts), and the first-load
# figures are measured on it.
e2e: bundles
	cd end2end && npx playwright test

bundles: tools browser
	cargo leptos build --split
	$(RELEASE_SITE) cargo leptos build --release --precompress --split

## Replace the committed pictures (end2end/screenshots/: README.md's and docs/'s, and the baselines
## the visual-regression tests compare with) on purpose, after a change to the pages.
## `make test` only compares, and never writes them.
screenshots: bundles
	cd end2end && npx playwright test --project=js --update-snapshots=changed screenshots.spec.ts email.spec.ts

## Rebuild and reload on every change (debug build).
## (Plain file names: the server reads hashed ones once, at start-up, and a style-only
## change is reloaded without a restart.)
dev: tools
	LEPTOS_HASH_FILES=false cargo leptos watch --split

## Load benchmarks of the release build (docs/operations.md "Performance"): the server pinned to one
## core, oha to the other; prints a table. `make bench PG=1` runs them on PostgreSQL.
PG ?= 0
bench: tools
	@command -v oha >/dev/null 2>&1 || \
		{ echo "Installing oha (once)"; cargo install --locked oha; }
	cargo leptos build --release --precompress --split
	PG=$(PG) tests/bench/run.sh

## Formatting, no import cycle among the crate's modules, no comment or document naming a file
## that is not in the repository, nothing of HTTP or the clock in src/server/identity,
## no wall-clock read outside src/server/clock.rs, and clippy (-D warnings) for the server, the browser bundle and both at once.
lint: wasm-target
	cargo fmt --all -- --check
	python3 .ci/import-cycles.py
	python3 .ci/cited-paths.py
	@! grep -rnE '\b(axum|leptos|leptos_axum|leptos_meta|leptos_router|tower_cookies|http|context)::|RequestCtx|now_seconds|now_millis|SystemTime|Instant::now' src/server/identity \
		|| { echo "src/server/identity: no HTTP, no request context, no clock (see its mod.rs)"; exit 1; }
	@! git grep -nE 'SystemTime::now|OffsetDateTime::now|Utc::now' -- src ':!src/server/clock.rs' \
		|| { echo "src: read the time from the one clock (src/server/clock.rs), passed in as now"; exit 1; }
	$(LEPTOS_ENV) cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings
	$(LEPTOS_ENV) cargo clippy --all-features -- -D warnings

fmt:
	cargo fmt --all

## Install the build tools when missing (see README "Requirements").
tools: npm wasm-target
	@cargo leptos --version 2>/dev/null | grep -qxF "cargo-leptos $(CARGO_LEPTOS_VERSION)" || \
		{ echo "Installing cargo-leptos $(CARGO_LEPTOS_VERSION) (once; takes a while)"; \
		  cargo install --locked cargo-leptos --version $(CARGO_LEPTOS_VERSION); }
	@wasm-bindgen --version 2>/dev/null | grep -qxF "wasm-bindgen $(WASM_BINDGEN_VERSION)" || \
		{ echo "Installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); }

## The browser bundle's target (rust-toolchain.toml names it, but a toolchain installed
## before that file was read lacks it).
wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

## npm packages: wasm-opt (binaryen) for release builds, Playwright for the browser tests.
npm:
	@if [ ! -x $(NPM_BIN)/wasm-opt ] || [ ! -x $(NPM_BIN)/playwright ] || \
	    [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then \
		cd end2end && npm ci --no-audit --no-fund; \
	fi

## Debian's chromium for Playwright (it cannot download its own browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

clean-e2e:
	rm -rf end2end/.cache end2end/test-results end2end/playwright-report
