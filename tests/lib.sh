# tests/lib.sh -- shared helpers for the integration scripts (bash). Source it first.
#
# Output is TAP: each check prints "ok N - name" or "not ok N - name" plus "# " lines of
# detail. Every process a script starts is recorded by PID and killed on exit, and only
# those. Every peer listens on 127.0.0.0/8 or [::1] only.
set -u
SALVO_BUILD=${SALVO_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../build" && pwd)}
SALVO_ROOT=${SALVO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SALVO=$SALVO_BUILD/salvo
TESTD=$SALVO_BUILD/testd
T_N=0
T_PIDS=()
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/salvo-it.XXXXXX")
# Under the sanitizer build, every report goes to a file that finish() turns into a
# failing case, so a leak or UB in any run of a script is never lost in a pipe.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T_DIR/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T_DIR/sanitizer"

t_cleanup() {
    local p
    for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T_DIR"
}
trap t_cleanup EXIT

# ok NAME / not_ok NAME DETAIL...
ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() {
    T_N=$((T_N + 1)); echo "not ok $T_N - $1"; shift
    local l; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/# /'; done
}
# check NAME COMMAND...: passes when the command succeeds.
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
# check_eq NAME EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}
# check_le NAME A B: passes when A <= B (numbers, may be fractional)
check_le() {
    if awk -v a="$2" -v b="$3" 'BEGIN{exit !(a+0 <= b+0)}'; then ok "$1"
    else not_ok "$1" "expected $2 <= $3"; fi
}

# start_testd NAME [ARGS...]: starts the project's test server on 127.0.0.1 (port 0 = any
# free port unless ARGS say otherwise) and sets TESTD_PORT and TESTD_PID. The server
# writes its port to a file once it listens; we wait at most 5 s for it.
start_testd() {
    local name=$1; shift
    local pf="$T_DIR/$name.port"
    "$TESTD" --port-file "$pf" "$@" >"$T_DIR/$name.log" 2>&1 &
    TESTD_PID=$!
    T_PIDS+=("$TESTD_PID")
    local i
    for i in $(seq 1 100); do
        [ -s "$pf" ] && break
        sleep 0.05
    done
    [ -s "$pf" ] || { echo "# testd $name did not start"; cat "$T_DIR/$name.log"; return 1; }
    TESTD_PORT=$(head -1 "$pf")
}

# free_port: a TCP/UDP port nobody on 127.0.0.1 uses right now (for servers such as
# dnsmasq that cannot report the port they chose).
free_port() {
    python3 - <<'PY'
import socket
for _ in range(50):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); u.close(); print(p); break
    except OSError:
        u.close()
PY
}

# start_dnsmasq NAME [DNSMASQ ARGS...]: a real resolver on 127.0.0.1:DNS_PORT that knows
# only what ARGS tell it (--address=/name/127.0.0.x ...), logging every query to
# $T_DIR/NAME.dns.log. Sets DNS_PORT, DNS_PID, DNS_LOG.
start_dnsmasq() {
    local name=$1; shift
    DNS_PORT=$(free_port)
    DNS_LOG="$T_DIR/$name.dns.log"
    dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
        --no-poll --listen-address=127.0.0.1 --bind-interfaces --port="$DNS_PORT" \
        --user=root --pid-file= --log-queries --log-facility="$DNS_LOG" "$@" \
        >"$T_DIR/$name.dnsmasq.out" 2>&1 &
    DNS_PID=$!
    T_PIDS+=("$DNS_PID")
    local i
    for i in $(seq 1 100); do
        grep -q 'started' "$DNS_LOG" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "# dnsmasq $name did not start"; cat "$T_DIR/$name.dnsmasq.out"; return 1
}

# dns_queries NAME_SUBSTRING: how many queries dnsmasq logged for names containing it.
dns_queries() { grep -E "query\[(A|AAAA)\] [^ ]*$1" "$DNS_LOG" | wc -l; }

# jq_count FILTER FILE: how many records of FILE match the jq boolean FILTER.
jq_count() { jq -c "select($1)" "$2" | wc -l; }

# finish: exit status for run.sh (non-zero when any case failed).
finish() {
    [ "$T_N" -gt 0 ] || { echo "not ok 1 - no case ran"; exit 1; }
    local reports
    reports=$(cat "$T_DIR"/sanitizer.* 2>/dev/null)
    if [ -n "$reports" ]; then not_ok "no sanitizer report" "$reports"; else ok "no sanitizer report"; fi
    exit 0
}

# now / since START: wall-clock seconds (fractional), for generous timing checks.
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN{printf "%.3f", e - s}'; }
