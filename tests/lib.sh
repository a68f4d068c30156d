# tests/lib.sh -- shared helpers for the integration scripts (bash). Source it first.
#
# Output is TAP: each check prints "ok N - name" or "not ok N - name" plus "# " lines of
# detail. Every process a script starts is recorded by PID and killed on exit, and only
# those. Every peer listens on 127.0.0.0/8 or [::1] only.
set -u
# dnsmasq and nginx live in the sbin directories, which a caller's PATH may leave out
# (PATH=/usr/bin:/bin, to run Debian's python3): look there last.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
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

# ---- TLS peers ----------------------------------------------------------------------

# make_certs: the test certificates of tests/certs.sh in $T_DIR/certs; sets CERTS.
make_certs() {
    CERTS="$T_DIR/certs"
    bash "$SALVO_ROOT/tests/certs.sh" "$CERTS"
}

# wait_listen ADDR PORT: waits (at most 5 s) until ADDR:PORT accepts a TCP connection.
wait_listen() {
    local i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# start_nginx NAME HTTP_BLOCK: runs Debian's nginx in the foreground (master plus
# workers; the master's PID is recorded, and SIGTERM to it stops the workers too) with
# the echo module loaded, logs and temporary files in $T_DIR/NAME.nginx, and HTTP_BLOCK
# as the body of its http {} section. Waits until every "listen ADDR:PORT" of the block
# accepts, or only those named in NGINX_WAIT ("ADDR:PORT ..."; for blocks with thousands
# of listeners). NGINX_WORKERS (2), NGINX_CONNECTIONS (4096) and NGINX_NOFILE (8192) size
# it. Sets NGINX_PID. The benchmarks start their servers with it too.
start_nginx() {
    local name=$1 block=$2 dir="$T_DIR/$1.nginx" user="" l
    mkdir -p "$dir/tmp"
    # Workers run as "nobody" when the master is root, and could not read $T_DIR.
    [ "$(id -u)" = 0 ] && user="user root;"
    cat >"$dir/nginx.conf" <<NGINX
daemon off;
$user
worker_processes ${NGINX_WORKERS:-2};
worker_rlimit_nofile ${NGINX_NOFILE:-8192};
pid $dir/nginx.pid;
error_log $dir/error.log;
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
events { worker_connections ${NGINX_CONNECTIONS:-4096}; }
http {
    access_log off;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
$block
}
NGINX
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/out" 2>&1 &
    NGINX_PID=$!
    T_PIDS+=("$NGINX_PID")
    for l in ${NGINX_WAIT:-$(grep -oE 'listen +[0-9.]+:[0-9]+' <<<"$block" | awk '{print $2}')}; do
        wait_listen "${l%:*}" "${l##*:}" ||
            { echo "# nginx $name did not listen on $l"; cat "$dir/out" "$dir/error.log"; return 1; }
    done
}

# start_s_server NAME PORT [ARGS...]: `openssl s_server` on 127.0.0.1:PORT with ARGS
# (certificates, -www, protocol flags), under the OPENSSL_CONF of the caller's
# environment. Waits until it accepts. Sets S_SERVER_PID.
start_s_server() {
    local name=$1 port=$2; shift 2
    openssl s_server -accept "127.0.0.1:$port" "$@" </dev/null >"$T_DIR/$name.s_server.log" 2>&1 &
    S_SERVER_PID=$!
    T_PIDS+=("$S_SERVER_PID")
    wait_listen 127.0.0.1 "$port" ||
        { echo "# s_server $name did not start"; cat "$T_DIR/$name.s_server.log"; return 1; }
}

# start_tls_peer NAME: tests/server/tls_peer.py with the leaf certificate of make_certs.
# Sets TLS_PEER_PORT and TLS_PEER_PID.
start_tls_peer() {
    local pf="$T_DIR/$1.tls_peer.port" i
    python3 "$SALVO_ROOT/tests/server/tls_peer.py" serve --cert "$CERTS/leaf.pem" \
        --key "$CERTS/leaf.key" --port-file "$pf" >"$T_DIR/$1.tls_peer.log" 2>&1 &
    TLS_PEER_PID=$!
    T_PIDS+=("$TLS_PEER_PID")
    for i in $(seq 1 100); do
        [ -s "$pf" ] && break
        sleep 0.05
    done
    [ -s "$pf" ] || { echo "# tls_peer $1 did not start"; cat "$T_DIR/$1.tls_peer.log"; return 1; }
    TLS_PEER_PORT=$(head -1 "$pf")
}

# openssl_policy FILE SETTING...: an OPENSSL_CONF file in the shape of Debian's
# openssl.cnf whose system_default section holds the SETTINGs ("MinProtocol = TLSv1").
openssl_policy() {
    local file=$1; shift
    {
        printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" "ssl_conf = ssl_sect" \
            "[ssl_sect]" "system_default = system_default_sect" "[system_default_sect]"
        printf '%s\n' "$@"
    } >"$file"
}
