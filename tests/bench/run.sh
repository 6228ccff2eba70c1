#!/usr/bin/env bash
# `make bench`: Gatehouse under load. The server runs pinned to core 0, the load
# generator (oha) to core 1. Prints a table of throughput, latency, errors and memory.
#
#   PG=1 make bench        the same on PostgreSQL (GATEHOUSE_BENCH_POSTGRES_URL, default
#                          postgres://postgres@127.0.0.1:5432/postgres; a scratch
#                          database is created and dropped)
#   BENCH_SECONDS=20       length of each phase (default 10)
#   BENCH_SEED=1000000     sessions in the table for the large-table phase (default 1 M)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release/gatehouse"
seconds="${BENCH_SECONDS:-10}"
seed="${BENCH_SEED:-1000000}"
port="${BENCH_PORT:-3300}"
base="http://127.0.0.1:$port"
password="bench-correct-horse-battery-staple"
server_cpu=0
load_cpu=1

command -v oha >/dev/null || { echo "oha is missing: cargo install --locked oha" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no release build at $bin: run cargo leptos build --release" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the benchmark needs two cores (server and load generator)" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
pg_db=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    if [ -n "$pg_db" ]; then psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ "${PG:-0}" = 1 ]; then
    pg_admin="${GATEHOUSE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
    pg_db="gatehouse_bench_$$"
    psql "$pg_admin" -qc "CREATE DATABASE $pg_db" >/dev/null
    database_url="${pg_admin%/*}/$pg_db"
    backend="PostgreSQL"
else
    database_url="sqlite://$work/bench.db?mode=rwc"
    backend="SQLite"
fi

export DATABASE_URL="$database_url"
export LEPTOS_SITE_ROOT="$root/target/site" LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_ENV=PROD
export GATEHOUSE_PUBLIC_URL="$base" RUST_LOG=warn
# The per-IP limiter would turn a sign-in storm from one address into a stream of 429s:
# lift it, so the storm measures hashing. Per-username lock-out stays as configured.
export GATEHOUSE_RATE_SIGNIN="100000000/1s" GATEHOUSE_RATE_SIGNUP="100000000/1s"

"$bin" migrate >/dev/null
printf '%s\n' "$password" | "$bin" user create --username bench-user --role user >/dev/null
printf '%s\n' "$password" | "$bin" user create --username storm-user --role user >/dev/null

taskset -c "$server_cpu" "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "$base/healthz" >/dev/null || { echo "the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status"; }
reset_peak() { echo 5 > "/proc/$server_pid/clear_refs" 2>/dev/null || true; }

login_body="username=bench-user&password=$password&next="
token="$(curl -fs -o /dev/null -D - -X POST "$base/api/login" \
    -H "Origin: $base" -H 'Accept: application/json' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$login_body" \
    | sed -n 's/^[Ss]et-[Cc]ookie: gatehouse_session=\([a-z2-7]*\);.*/\1/p' | head -n1)"
[ -n "$token" ] || { echo "could not sign in the benchmark user" >&2; exit 1; }
cookie="gatehouse_session=$token"

# oha <name> <concurrency> <args…>: one phase, JSON summary in $work/<name>.json.
load() {
    local name="$1" concurrency="$2"
    shift 2
    taskset -c "$load_cpu" oha --no-tui --output-format json -z "${seconds}s" -c "$concurrency" "$@" >"$work/$name.json"
}
profile() { load "$1" 32 -H "Cookie: $cookie" "$base/profile"; }
signins() {
    load "$1" 16 -m POST -H "Origin: $base" -H 'Accept: application/json' \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        -d "username=storm-user&password=$password&next=" "$base/api/login"
}

# Idle means idle: past the time hashing threads keep their argon2 memory without work
# (IDLE_RELEASE, 2 s; the server hashed once at start-up, for the dummy hash).
sleep 3
idle_rss=$(rss_kib)
load warmup 32 -H "Cookie: $cookie" "$base/profile"
reset_peak
profile profile
load anonymous 32 "$base/"
signins signin
signin_peak=$(peak_kib)
reset_peak
profiled_storm() { profile storm-profile; }
signins storm-signin & storm_pid=$!
profiled_storm
wait "$storm_pid"
storm_peak=$(peak_kib)

profile small-table
"$bin" sessions seed --username storm-user --count "$seed" >"$work/seed.log" || {
    echo "seeding failed; the server said:" >&2; tail -n 20 "$work/server.log" >&2; exit 1; }
load warmup-large 32 -H "Cookie: $cookie" "$base/profile"
profile large-table
sessions_now=$(curl -fs -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base/profile")

python3 - "$work" "$backend" "$seconds" "$idle_rss" "$signin_peak" "$storm_peak" "$seed" <<'PY'
import json, sys, datetime
work, backend, seconds, idle, signin_peak, storm_peak, seed = sys.argv[1:]

def phase(name):
    with open(f"{work}/{name}.json") as f:
        d = json.load(f)
    s = d["summary"]
    p = d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    # Requests still in flight when the phase's time runs out are cut off by oha itself:
    # they are not errors of the server.
    failed = sum(v for k, v in d.get("errorDistribution", {}).items() if "deadline" not in k)
    errors = failed + sum(v for k, v in codes.items() if not k.startswith("2"))
    return s.get("requestsPerSec") or 0.0, (p.get("p50") or 0) * 1000, (p.get("p99") or 0) * 1000, errors, ok

rows = [
    ("authenticated GET /profile (c=32)", "profile", None),
    ("anonymous GET / (c=32)", "anonymous", None),
    ("sign-in POST /api/login (c=16)", "signin", signin_peak),
    ("storm: /profile (c=32) during sign-ins", "storm-profile", None),
    ("storm: sign-ins (c=16) during /profile", "storm-signin", storm_peak),
    ("/profile, 1 k sessions in the table", "small-table", None),
    (f"/profile, {int(seed):,} sessions in the table", "large-table", None),
]
mib = lambda kib: f"{int(kib) / 1024:.0f} MiB"
print(f"\nGatehouse benchmark — {backend}, {datetime.date.today()}, server on 1 pinned core, oha on another, {seconds} s per phase")
print(f"idle RSS: {mib(idle)}\n")
print(f"| phase | req/s | p50 ms | p99 ms | errors | peak RSS |")
print(f"|---|---:|---:|---:|---:|---:|")
results = {}
for label, name, peak in rows:
    rps, p50, p99, errors, ok = phase(name)
    results[name] = (rps, p50, p99)
    print(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {mib(peak) if peak else ''} |")
profile, storm = results["profile"][0], results["storm-profile"][0]
signin, storm_signin = results["signin"][0], results["storm-signin"][0]
small, large = results["small-table"][1], results["large-table"][1]
print()
print(f"during the storm /profile keeps {storm / profile:.0%} of its solo throughput; sign-ins keep {storm_signin / signin:.0%} of theirs")
print(f"validation with {int(seed):,} sessions vs 1 k: p50 {large:.2f} ms vs {small:.2f} ms ({(large - small) / small:+.0%})")
print("per-IP sign-in limit lifted for the storm (GATEHOUSE_RATE_SIGNIN=100000000/1s); argon2id m=19456 KiB, t=2, p=1")
PY
printf 'seeding: %s\n' "$(cat "$work/seed.log")"
[ "$sessions_now" = 200 ] || { echo "the benchmark session stopped working ($sessions_now)" >&2; exit 1; }
