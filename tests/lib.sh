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
# Every peer is on loopback: no proxy of the caller's environment may come between salvo
# (or curl) and them. A script that tests proxies sets these itself.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
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
# $T_DIR/NAME.dns.log. Sets DNS_PORT, DNS_PID, DNS_LOG. DNSMASQ_ADDR and DNSMASQ_PORT,
# when set, choose another loopback address and a fixed port (start_proxy_dns).
start_dnsmasq() {
    local name=$1; shift
    DNS_PORT=${DNSMASQ_PORT:-$(free_port)}
    DNS_LOG="$T_DIR/$name.dns.log"
    dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
        --no-poll --listen-address="${DNSMASQ_ADDR:-127.0.0.1}" --bind-interfaces \
        --port="$DNS_PORT" \
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

# start_silent PORT: a peer on 127.0.0.1:PORT that accepts up to 8 connections and never
# says a byte (a proxy that never answers CONNECT, a server that never speaks TLS), for
# 30 s. Waits until it listens.
start_silent() {
    python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $1)); s.listen(8)
conns = []
for _ in range(8):
    conns.append(s.accept()[0])
time.sleep(30)
" &
    T_PIDS+=($!)
    wait_listen 127.0.0.1 "$1" || echo "# the silent peer on port $1 did not start"
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

# ---- proxy peers --------------------------------------------------------------------

# start_proxy_dns NAME [DNSMASQ ARGS...]: a dnsmasq (start_dnsmasq) on port 53 of a free
# address 127.53.X.Y, for the peers that resolve through the system resolver, which can
# name a server but not its port (resolver_ns). Sets PROXY_DNS_ADDR, PROXY_DNS_PID and
# PROXY_DNS_LOG; DNS_PORT, DNS_PID and DNS_LOG keep their values.
start_proxy_dns() {
    local name=$1 addr="" i saved=("${DNS_PORT:-}" "${DNS_PID:-}" "${DNS_LOG:-}") rc
    shift
    for i in $(seq 1 20); do
        addr=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
        python3 - "$addr" <<'PY' && break
import socket, sys
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind((sys.argv[1], 53))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
        addr=""
    done
    [ -n "$addr" ] || { echo "# no free port 53 on 127.53.0.0/16"; return 1; }
    DNSMASQ_ADDR=$addr DNSMASQ_PORT=53 start_dnsmasq "$name" "$@"
    rc=$?
    PROXY_DNS_ADDR=$addr PROXY_DNS_PID=$DNS_PID PROXY_DNS_LOG=$DNS_LOG
    DNS_PORT=${saved[0]} DNS_PID=${saved[1]} DNS_LOG=${saved[2]}
    return $rc
}

# resolver_ns ADDR: sets RESOLVER_NS to a command prefix that runs a command (exec'd, so
# its PID is the prefix's) in a private mount namespace whose /etc/resolv.conf names only
# the DNS server on ADDR:53, whose /etc/hosts knows only localhost and whose
# /etc/nsswitch.conf resolves hosts by files then dns: the names it resolves with
# getaddrinfo come from that server, and the rest of the machine is untouched. Needs
# CAP_SYS_ADMIN (root outside a locked-down container): `resolver_ns 127.0.0.1 &&
# "${RESOLVER_NS[@]}" true` tells whether it works here.
resolver_ns() {
    local d="$T_DIR/ns.$1"
    mkdir -p "$d"
    printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$1" >"$d/resolv.conf"
    printf 'hosts: files dns\n' >"$d/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$d/hosts"
    RESOLVER_NS=(unshare --mount sh -c 'd=$0
        for f in resolv.conf nsswitch.conf hosts; do mount --bind "$d/$f" "/etc/$f" || exit 125; done
        exec "$@"' "$d")
}

# start_tinyproxy [--auth USER:PASS] [--listen ADDR] [--connect-port PORT]... [--dns ADDR]:
# Debian's tinyproxy (1.11) in the foreground on ADDR (127.0.0.1) and a free port, for
# clients of 127.0.0.0/8. Its log ($TINYPROXY_LOG, level Connect) has one line
# "Request (file descriptor N): METHOD TARGET HTTP/1.1" per request it reads, CONNECT
# included. --auth: BasicAuth, every request needs Proxy-Authorization (else 407).
# --connect-port: CONNECT allowed to those ports only, any other is answered 403 (without
# it, every port is allowed). --dns: the proxy resolves names through the DNS server on
# ADDR:53 only (resolver_ns). Every call makes a new instance with its own files
# ($T_DIR/tinyproxy.N.*). Sets TINYPROXY_PORT, TINYPROXY_PID, TINYPROXY_LOG.
# As root without a User line, tinyproxy warns once and keeps running as root.
T_TINYPROXY_N=0
start_tinyproxy() {
    local auth="" listen=127.0.0.1 dns="" ports=() p base
    while [ $# -gt 0 ]; do
        case $1 in
            --auth) auth=$2; shift 2 ;;
            --listen) listen=$2; shift 2 ;;
            --connect-port) ports+=("$2"); shift 2 ;;
            --dns) dns=$2; shift 2 ;;
            *) echo "# start_tinyproxy: unknown option $1"; return 1 ;;
        esac
    done
    T_TINYPROXY_N=$((T_TINYPROXY_N + 1))
    base="$T_DIR/tinyproxy.$T_TINYPROXY_N"
    TINYPROXY_PORT=$(free_port)
    TINYPROXY_LOG="$base.log"
    {
        echo "Port $TINYPROXY_PORT"
        echo "Listen $listen"
        echo "Timeout 60"
        echo "LogFile \"$TINYPROXY_LOG\""
        echo "LogLevel Connect"
        echo "MaxClients 256"
        echo "Allow 127.0.0.0/8"
        [ -n "$auth" ] && echo "BasicAuth ${auth%%:*} ${auth#*:}"
        for p in "${ports[@]}"; do echo "ConnectPort $p"; done
    } >"$base.conf"
    local run=(tinyproxy -d -c "$base.conf")
    [ -n "$dns" ] && resolver_ns "$dns" && run=("${RESOLVER_NS[@]}" "${run[@]}")
    "${run[@]}" >"$base.out" 2>&1 &
    TINYPROXY_PID=$!
    T_PIDS+=("$TINYPROXY_PID")
    wait_listen "$listen" "$TINYPROXY_PORT" ||
        { echo "# tinyproxy $T_TINYPROXY_N did not listen"; cat "$base.out"; return 1; }
}

# proxy_requests LOG: how many requests a tinyproxy has read so far.
proxy_requests() { grep -c 'Request (file descriptor' "$1" 2>/dev/null; }

# start_microsocks [--auth USER:PASS] [--listen ADDR] [--dns ADDR]: Debian's microsocks
# (a SOCKS5 server) on ADDR (127.0.0.1) and a free port. --auth: username/password
# authentication required (-u/-P). --dns: the proxy resolves the names of socks5h requests
# through the DNS server on ADDR:53 only (resolver_ns). Sets MICROSOCKS_PORT and
# MICROSOCKS_PID, and MICROSOCKS_LOG: microsocks writes one line there per tunnel it opens
# ("client[FD] ADDR: connected to HOST:PORT").
T_MICROSOCKS_N=0
start_microsocks() {
    local auth=() listen=127.0.0.1 dns="" base
    while [ $# -gt 0 ]; do
        case $1 in
            --auth) auth=(-u "${2%%:*}" -P "${2#*:}"); shift 2 ;;
            --listen) listen=$2; shift 2 ;;
            --dns) dns=$2; shift 2 ;;
            *) echo "# start_microsocks: unknown option $1"; return 1 ;;
        esac
    done
    T_MICROSOCKS_N=$((T_MICROSOCKS_N + 1))
    base="$T_DIR/microsocks.$T_MICROSOCKS_N"
    MICROSOCKS_PORT=$(free_port)
    MICROSOCKS_LOG="$base.log"
    local run=(microsocks -i "$listen" -p "$MICROSOCKS_PORT" "${auth[@]}")
    [ -n "$dns" ] && resolver_ns "$dns" && run=("${RESOLVER_NS[@]}" "${run[@]}")
    "${run[@]}" >"$MICROSOCKS_LOG" 2>&1 &
    MICROSOCKS_PID=$!
    T_PIDS+=("$MICROSOCKS_PID")
    wait_listen "$listen" "$MICROSOCKS_PORT" ||
        { echo "# microsocks $T_MICROSOCKS_N did not listen"; cat "$MICROSOCKS_LOG"; return 1; }
}

# start_stunnel [--cert PEM] [--key KEY] [--to PORT]: Debian's stunnel (stunnel4, 5.x) in
# the foreground, server mode: TLS on 127.0.0.1 and a free port with the certificate PEM
# (default: make_certs' leaf.pem, valid for 127.0.0.1), each connection forwarded in clear
# to 127.0.0.1:PORT (default: $TINYPROXY_PORT). In front of tinyproxy, an HTTPS proxy.
# Sets STUNNEL_PORT, STUNNEL_PID, STUNNEL_LOG.
T_STUNNEL_N=0
start_stunnel() {
    local cert="$CERTS/leaf.pem" key="$CERTS/leaf.key" to=${TINYPROXY_PORT:-} base
    while [ $# -gt 0 ]; do
        case $1 in
            --cert) cert=$2; shift 2 ;;
            --key) key=$2; shift 2 ;;
            --to) to=$2; shift 2 ;;
            *) echo "# start_stunnel: unknown option $1"; return 1 ;;
        esac
    done
    T_STUNNEL_N=$((T_STUNNEL_N + 1))
    base="$T_DIR/stunnel.$T_STUNNEL_N"
    STUNNEL_PORT=$(free_port)
    STUNNEL_LOG="$base.log"
    cat >"$base.conf" <<STUNNEL
foreground = yes
pid = $base.pid
output = $STUNNEL_LOG
syslog = no
debug = info
[proxy]
client = no
accept = 127.0.0.1:$STUNNEL_PORT
connect = 127.0.0.1:$to
cert = $cert
key = $key
STUNNEL
    stunnel4 "$base.conf" >"$base.out" 2>&1 &
    STUNNEL_PID=$!
    T_PIDS+=("$STUNNEL_PID")
    wait_listen 127.0.0.1 "$STUNNEL_PORT" ||
        { echo "# stunnel $T_STUNNEL_N did not listen"; cat "$base.out"; return 1; }
}
