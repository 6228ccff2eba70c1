#!/usr/bin/env bash
# `make bench`: Gatehouse under load. The server runs pinned to core 0, the load
# generator (oha) to core 1. Prints a table of throughput, latency, errors and memory.
#
#   PG=1 make bench        the same on PostgreSQL (GATEHOUSE_BENCH_POSTGRES_URL, default
#                          postgres://postgres@127.0.0.1:5432/postgres; a scratch
#                          database is created and dropped)
#   BENCH_SECONDS=20       length of each phase (default 10)
#   BENCH_SEED=1000000     sessions in the table for the large-table phase (default 1 M)
#   BENCH_ROUNDS=5         rounds of the small-table / large-table comparison (default 5)
#   BENCH_WRITER_ROWS=N    sessions another process writes during the writer storm (300000)
#   BENCH_REFERENCE=0      skip the reference argon2 row (it installs @node-rs/argon2, the
#                          reference stack's hashing library, from npm into a scratch dir)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release/gatehouse"
seconds="${BENCH_SECONDS:-10}"
seed="${BENCH_SEED:-1000000}"
rounds="${BENCH_ROUNDS:-5}"
round_seconds=4
port="${BENCH_PORT:-3300}"
base="http://127.0.0.1:$port"
large_base="http://127.0.0.1:$((port + 1))"
uncached_base="http://127.0.0.1:$((port + 2))"
password="bench-correct-horse-battery-staple"
server_cpu=0
load_cpu=1

command -v oha >/dev/null || { echo "oha is missing: cargo install --locked oha" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no release build at $bin: run cargo leptos build --release" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the benchmark needs two cores (server and load generator)" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
large_pid=""
uncached_pid=""
pg_dbs=()
cleanup() {
    for pid in $server_pid $large_pid $uncached_pid; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    for db in "${pg_dbs[@]}"; do
        psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# new_database <name>: a scratch database; prints its URL.
if [ "${PG:-0}" = 1 ]; then
    pg_admin="${GATEHOUSE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    backend="PostgreSQL"
    new_database() {
        local db="gatehouse_bench_${1}_$$"
        psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
        echo "${pg_admin%/*}/$db"
    }
    count_sessions() { psql "$1" -Atc "SELECT COUNT(*) FROM sessions"; }
else
    backend="SQLite"
    new_database() { echo "sqlite://$work/$1.db?mode=rwc"; }
    count_sessions() {
        python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM sessions").fetchone()[0])' \
            "$work/$2.db"
    }
fi
[ "${PG:-0}" = 1 ] && pg_dbs+=("gatehouse_bench_main_$$" "gatehouse_bench_large_$$")
database_url="$(new_database main)"
large_url="$(new_database large)"

export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$root/target/site}" LEPTOS_ENV=PROD RUST_LOG=warn
# The per-IP limiter would turn a sign-in storm from one address into a stream of 429s:
# lift it, so the storm measures hashing. The per-username lock-out counts attempts in
# flight (each takes a place on the counter before hashing, a success frees them), and
# the storm signs one user in 16 at a time: its threshold goes above the concurrency.
export GATEHOUSE_RATE_SIGNIN="100000000/1s" GATEHOUSE_RATE_SIGNUP="100000000/1s"
export GATEHOUSE_LOGIN_MAX_FAILURES=1000
# Every server of the run shares one key (PostgreSQL servers need one configured).
export GATEHOUSE_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

# prepare <database url>: migrated, with the two benchmark users.
prepare() {
    DATABASE_URL="$1" "$bin" migrate >/dev/null
    printf '%s\n' "$password" | DATABASE_URL="$1" "$bin" user create --username bench-user --role user >/dev/null
    printf '%s\n' "$password" | DATABASE_URL="$1" "$bin" user create --username storm-user --role user >/dev/null
}
# start <database url> <base url> <log>: a server pinned to the server core; prints its pid.
start() {
    DATABASE_URL="$1" GATEHOUSE_PUBLIC_URL="$2" LEPTOS_SITE_ADDR="${2#http://}" \
        taskset -c "$server_cpu" "$bin" serve >"$3" 2>&1 &
    echo $!
}
# wait_up <base url> <log>
wait_up() {
    for _ in $(seq 1 100); do
        curl -fs "$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$2" >&2
    exit 1
}
# sign_in <base url>: a session cookie for bench-user.
sign_in() {
    local token
    token="$(curl -fs -o /dev/null -D - -X POST "$1/api/login" \
        -H "Origin: $1" -H 'Accept: application/json' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data "username=bench-user&password=$password&next=" \
        | sed -n 's/^[Ss]et-[Cc]ookie: gatehouse_session=\([a-z2-7]*\);.*/\1/p' | head -n1)"
    [ -n "$token" ] || { echo "could not sign in the benchmark user at $1" >&2; exit 1; }
    echo "gatehouse_session=$token"
}

prepare "$database_url"
# The small table of the validation comparison: 1,000 sessions, plus the storm's own.
DATABASE_URL="$database_url" "$bin" sessions seed --username storm-user --count 1000 >/dev/null
server_pid="$(start "$database_url" "$base" "$work/server.log")"
wait_up "$base" "$work/server.log"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status"; }
reset_peak() { echo 5 > "/proc/$server_pid/clear_refs" 2>/dev/null || true; }

cookie="$(sign_in "$base")"

# load <name> <seconds> <concurrency> <args…>: one phase, JSON summary in $work/<name>.json.
load() {
    local name="$1" length="$2" concurrency="$3"
    shift 3
    taskset -c "$load_cpu" oha --no-tui --output-format json -z "${length}s" -c "$concurrency" "$@" >"$work/$name.json"
}
profile() { load "$1" "$seconds" 32 -H "Cookie: $cookie" "$base/profile"; }
signins() {
    load "$1" "$seconds" 16 -m POST -H "Origin: $base" -H 'Accept: application/json' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        -d "username=storm-user&password=$password&next=" "$base/api/login"
}

# Idle means idle: past the time hashing threads keep their argon2 memory without work
# (IDLE_RELEASE, 2 s; the server hashed once at start-up, for the dummy hash).
sleep 3
idle_rss=$(rss_kib)
profile warmup
reset_peak
profile profile
load anonymous "$seconds" 32 "$base/"
signins signin
signin_peak=$(peak_kib)
# The reference stack's hashing library on the same core, right after our sign-ins: the
# machine's speed drifts, so the sign-in target is judged against a figure taken now.
reference_rate=""
reference_version="2.2.1"
if [ "${BENCH_REFERENCE:-1}" = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if npm install --prefix "$work/reference" --no-audit --no-fund --silent \
        "@node-rs/argon2@$reference_version" >/dev/null 2>&1; then
        reference_rate="$(NODE_PATH="$work/reference/node_modules" \
            taskset -c "$server_cpu" node "$root/tests/bench/argon2-reference.js" "$seconds")"
    else
        echo "could not install @node-rs/argon2 from npm: reference row skipped" >&2
    fi
fi
reset_peak
signins storm-signin & storm_pid=$!
profile storm-profile
wait "$storm_pid"
storm_peak=$(peak_kib)


# The same pages rendered for every request: a server on the same database with the
# page cache off (what a page that cannot be cached costs).
uncached_pid="$(GATEHOUSE_PAGE_CACHE_MIB=0 start "$database_url" "$uncached_base" "$work/uncached.log")"
wait_up "$uncached_base" "$work/uncached.log"
uncached_cookie="$(sign_in "$uncached_base")"
load warmup-uncached "$round_seconds" 32 -H "Cookie: $uncached_cookie" "$uncached_base/profile"
load uncached-profile "$seconds" 32 -H "Cookie: $uncached_cookie" "$uncached_base/profile"
load uncached-anonymous "$seconds" 32 "$uncached_base/"
kill "$uncached_pid" && wait "$uncached_pid" 2>/dev/null || true
uncached_pid=""

# Session validation against a small and a large table: a second server on its own
# database holding $seed more sessions, measured in alternation with the first, so that
# the machine's speed drifting (it does, by tens of percent within minutes) hits both
# alike. Each side's figure is the median of its rounds.
prepare "$large_url"
DATABASE_URL="$large_url" "$bin" sessions seed --username storm-user --count "$seed" >"$work/seed.log" || {
    echo "seeding failed" >&2; exit 1; }
large_pid="$(start "$large_url" "$large_base" "$work/large.log")"
wait_up "$large_base" "$work/large.log"
large_cookie="$(sign_in "$large_base")"
small_rows="$(count_sessions "$database_url" main)"
large_rows="$(count_sessions "$large_url" large)"
load warmup-large "$round_seconds" 32 -H "Cookie: $large_cookie" "$large_base/profile"
for round in $(seq 1 "$rounds"); do
    load "small-$round" "$round_seconds" 32 -H "Cookie: $cookie" "$base/profile"
    load "large-$round" "$round_seconds" 32 -H "Cookie: $large_cookie" "$large_base/profile"
done
# A writer storm: another process writes sessions into the same SQLite file (or
# PostgreSQL database) in large transactions, ending with a full WAL checkpoint, while
# /profile is measured. Session validation reads through its own connections (SQLite:
# read-only, on the request's thread, 500 ms busy timeout): this is where they would wait.
writer_rows="${BENCH_WRITER_ROWS:-300000}"
writer_started=$(date +%s.%N)
DATABASE_URL="$database_url" taskset -c "$load_cpu" "$bin" sessions seed --username storm-user --count "$writer_rows" \
    >"$work/writer.log" 2>&1 & writer_pid=$!
profile writer-storm
wait "$writer_pid" || { echo "the writer storm failed:" >&2; cat "$work/writer.log" >&2; exit 1; }
writer_seconds=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$writer_started")
sessions_now=$(curl -fs -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base/profile")

python3 - "$work" "$backend" "$seconds" "$idle_rss" "$signin_peak" "$storm_peak" "$rounds" "$round_seconds" "$small_rows" "$large_rows" "$reference_rate" "$reference_version" "$writer_rows" "$writer_seconds" <<'PY'
import json, sys, datetime, statistics
work, backend, seconds, idle, signin_peak, storm_peak, rounds, round_seconds, small_rows, large_rows, reference_rate, reference_version, writer_rows, writer_seconds = sys.argv[1:]
rounds = int(rounds)

def phase(name):
    with open(f"{work}/{name}.json") as f:
        d = json.load(f)
    s = d["summary"]
    p = d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    # Requests still in flight when the phase's time runs out are cut off by oha itself:
    # they are not errors of the server.
    failed = sum(v for k, v in d.get("errorDistribution", {}).items() if "deadline" not in k)
    errors = failed + sum(v for k, v in codes.items() if not k.startswith("2"))
    return s.get("requestsPerSec") or 0.0, (p.get("p50") or 0) * 1000, (p.get("p99") or 0) * 1000, errors

def median_of(prefix):
    runs = [phase(f"{prefix}-{r}") for r in range(1, rounds + 1)]
    return tuple(statistics.median(r[i] for r in runs) for i in range(3)) + (sum(r[3] for r in runs),)

mib = lambda kib: f"{int(kib) / 1024:.0f} MiB"
rows = [
    ("authenticated GET /profile (c=32)", phase("profile"), None),
    ("anonymous GET / (c=32)", phase("anonymous"), None),
    ("page cache off: GET /profile (c=32)", phase("uncached-profile"), None),
    ("page cache off: GET / (c=32)", phase("uncached-anonymous"), None),
    ("sign-in POST /api/login (c=16)", phase("signin"), signin_peak),
    ("storm: /profile (c=32) during sign-ins", phase("storm-profile"), None),
    ("storm: sign-ins (c=16) during /profile", phase("storm-signin"), storm_peak),
    (f"writer storm: /profile (c=32) while {int(writer_rows):,} sessions are written", phase("writer-storm"), None),
    (f"/profile, {int(small_rows):,} sessions in the table (median of {rounds} × {round_seconds} s)", median_of("small"), None),
    (f"/profile, {int(large_rows):,} sessions in the table (median of {rounds} × {round_seconds} s)", median_of("large"), None),
]
print(f"\nGatehouse benchmark — {backend}, {datetime.date.today()}, server on 1 pinned core, oha on another, {seconds} s per phase")
print(f"idle RSS: {mib(idle)}\n")
print("| phase | req/s | p50 ms | p99 ms | errors | peak RSS |")
print("|---|---:|---:|---:|---:|---:|")
for label, (rps, p50, p99, errors), peak in rows:
    print(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {mib(peak) if peak else ''} |")
by_label = {label: figures for label, figures, _ in rows}
profile = by_label["authenticated GET /profile (c=32)"][0]
storm = by_label["storm: /profile (c=32) during sign-ins"][0]
signin = by_label["sign-in POST /api/login (c=16)"][0]
storm_signin = by_label["storm: sign-ins (c=16) during /profile"][0]
small, large = rows[-2][1][1], rows[-1][1][1]
print()
print(f"during the storm /profile keeps {storm / profile:.0%} of its solo throughput; sign-ins keep {storm_signin / signin:.0%} of theirs")
if reference_rate:
    reference = float(reference_rate)
    print(f"reference hashing, same core, just after the sign-in phase: @node-rs/argon2 {reference_version} "
          f"{reference:.1f} hashes/s; Gatehouse sign-ins {signin:.1f}/s ({signin / reference:.2f}x)")
with open(f"{work}/writer-storm.json") as f:
    slowest = (json.load(f)["summary"].get("slowest") or 0) * 1000
print(f"writer storm: {int(writer_rows):,} sessions written by another process in {writer_seconds} s (ending with a WAL checkpoint); slowest /profile answer {slowest:.1f} ms")
print(f"validation with {int(large_rows):,} sessions vs {int(small_rows):,}: p50 {large:.2f} ms vs {small:.2f} ms ({(large - small) / small:+.0%})")
print("page cache on (GATEHOUSE_PAGE_CACHE_MIB=8, the default) except in the two 'page cache off' phases, served by a second server on the same database")
print("per-IP sign-in limit lifted for the storm (GATEHOUSE_RATE_SIGNIN=100000000/1s), lock-out threshold above the storm's concurrency (GATEHOUSE_LOGIN_MAX_FAILURES=1000); argon2id m=19456 KiB, t=2, p=1")
PY
printf 'seeding: %s\n' "$(cat "$work/seed.log")"
[ "$sessions_now" = 200 ] || { echo "the benchmark session stopped working ($sessions_now)" >&2; exit 1; }
