#!/usr/bin/env bash
# Two release builds side by side: `tests/bench/ab.sh A_BIN A_SITE B_BIN B_SITE`.
# Each serves its own scratch SQLite database, pinned to core 0; oha on core 1 measures
# them in alternating rounds (the machine's speed drifts by tens of percent within
# minutes, so only alternation compares two versions). Prints the medians.
#   ROUNDS=6 SECS=4   rounds per phase and seconds per round
set -euo pipefail
[ $# = 4 ] || { echo "usage: $0 A_BIN A_SITE B_BIN B_SITE" >&2; exit 2; }
a_bin=$1 a_site=$2 b_bin=$3 b_site=$4
rounds=${ROUNDS:-6} secs=${SECS:-4}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
password=bench-correct-horse-battery-staple
export RUST_LOG=warn LEPTOS_ENV=PROD GATEHOUSE_RATE_SIGNIN=100000000/1s GATEHOUSE_LOGIN_MAX_FAILURES=1000
export GATEHOUSE_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

start() { # bin site port
    local db="sqlite://$work/$3.db?mode=rwc"
    DATABASE_URL=$db "$1" migrate >/dev/null
    printf '%s\n' "$password" | DATABASE_URL=$db "$1" user create --username bench-user --role user >/dev/null
    DATABASE_URL=$db LEPTOS_SITE_ROOT=$2 GATEHOUSE_PUBLIC_URL=http://127.0.0.1:$3 LEPTOS_SITE_ADDR=127.0.0.1:$3 \
        taskset -c 0 "$1" serve >"$work/$3.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$3/healthz" >/dev/null && return 0; sleep 0.1; done
    cat "$work/$3.log" >&2; exit 1
}
cookie() { # port
    curl -fs -o /dev/null -D - -X POST "http://127.0.0.1:$1/api/login" -H "Origin: http://127.0.0.1:$1" \
        -H 'Accept: application/json' --data "username=bench-user&password=$password&next=" \
        | sed -n 's/^[Ss]et-[Cc]ookie: gatehouse_session=\([a-z2-7]*\);.*/\1/p' | head -n1
}
measure() { # oha arguments → "req/s p99-ms"; a round with failed answers stops the run
    taskset -c 1 oha --no-tui --output-format json -z "${secs}s" "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)
codes = d.get("statusCodeDistribution", {})
bad = {c: n for c, n in codes.items() if not c.startswith("2")}
errors = {e: n for e, n in d.get("errorDistribution", {}).items() if "deadline" not in e}
if bad or errors:
    sys.exit(f"failed answers: {bad} {errors}")
print(d["summary"]["requestsPerSec"], d["latencyPercentiles"]["p99"] * 1000)'
}
start "$a_bin" "$a_site" 3401
start "$b_bin" "$b_site" 3402
declare -A token=([3401]="$(cookie 3401)" [3402]="$(cookie 3402)")
for phase in profile anonymous signin; do
    for _ in $(seq "$rounds"); do
        for port in 3401 3402; do
            case $phase in
                profile) result=$(measure -c 32 -H "Cookie: gatehouse_session=${token[$port]}" "http://127.0.0.1:$port/profile") ;;
                anonymous) result=$(measure -c 32 "http://127.0.0.1:$port/") ;;
                signin) result=$(measure -c 16 -m POST -H "Origin: http://127.0.0.1:$port" -H 'Accept: application/json' \
                    -H 'Content-Type: application/x-www-form-urlencoded' \
                    -d "username=bench-user&password=$password&next=" "http://127.0.0.1:$port/api/login") ;;
            esac
            echo "$phase $port $result" >>"$work/results"
        done
    done
done
python3 - "$work/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    phase, port, rps, p99 = line.split()
    runs[(phase, port)].append((float(rps), float(p99)))
for phase in ("profile", "anonymous", "signin"):
    a, b = runs[(phase, "3401")], runs[(phase, "3402")]
    ma, mb = statistics.median(r for r, _ in a), statistics.median(r for r, _ in b)
    pa, pb = statistics.median(p for _, p in a), statistics.median(p for _, p in b)
    print(f"{phase:9} A {ma:8,.0f} req/s p99 {pa:6.2f} ms | B {mb:8,.0f} req/s p99 {pb:6.2f} ms | B/A {mb / ma:.2f}")
PY
