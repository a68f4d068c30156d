#!/usr/bin/env bash
# Happy Eyeballs (RFC 8305) on loopback. A name has an IPv4 and an IPv6 address on one
# port; at one of them a listener whose accept queue is full drops every SYN, at the
# other testd answers. With the dead address first, salvo starts the live one a stagger
# (250 ms) later and connects there, instead of waiting out its connect timeout; with the
# live one first, it connects at once. The addresses come from --resolve (a list) and
# from a real resolver answering A and AAAA.
. "$(dirname "$0")/../lib.sh"

if ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    echo "ok 1 - # SKIP no ::1"
    exit 0
fi

# A listener that never accepts, with a backlog of 0, and one client connection
# queued on it: its accept queue is full, so the kernel drops the SYNs that follow. It
# checks that a further connect does time out, then writes its port (atomically) and
# sleeps; lib.sh ends it.
BLACKHOLE='
import os, socket, sys, time
host, port, port_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ls = socket.socket(fam, socket.SOCK_STREAM)
ls.bind((host, port))
ls.listen(0)
port = ls.getsockname()[1]
held = []
for _ in range(16):
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(0.5)
    try:
        c.connect((host, port))
        held.append(c)
    except socket.timeout:
        c.close()
        break
else:
    sys.exit("the accept queue of %s port %d never filled" % (host, port))
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(port_file + ".tmp", port_file)
time.sleep(120)
'

# start_blackhole NAME ADDR PORT: sets BH_PORT.
start_blackhole() {
    local pf="$T_DIR/$1.bh.port" i
    python3 -c "$BLACKHOLE" "$2" "$3" "$pf" >"$T_DIR/$1.bh.log" 2>&1 &
    T_PIDS+=($!)
    for i in $(seq 1 200); do
        [ -s "$pf" ] && break
        sleep 0.05
    done
    [ -s "$pf" ] || { echo "# black hole $1 did not start"; cat "$T_DIR/$1.bh.log"; return 1; }
    BH_PORT=$(head -1 "$pf")
}

# Layout 1: 127.0.0.1:P drops SYNs, testd answers on [::1]:P.
# Layout 2: testd answers on 127.0.0.1:Q, [::1]:Q drops SYNs.
start_blackhole dead4 127.0.0.1 0 || exit 1
P=$BH_PORT
start_testd live --listen "[::1]:$P" --listen 127.0.0.1:0 || exit 1
Q=$(sed -n 2p "$T_DIR/live.port")
start_blackhole dead6 ::1 "$Q" || exit 1

# The peers are what they should be: a connect to a dead address is still pending after
# half a second (no answer, no refusal); the live ones accept.
timeout 0.5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$P" 2>/dev/null
check_eq "127.0.0.1:$P drops SYNs (a connect hangs)" 124 $?
timeout 0.5 bash -c "exec 3<>/dev/tcp/::1/$Q" 2>/dev/null
check_eq "[::1]:$Q drops SYNs (a connect hangs)" 124 $?
check "testd answers on [::1]:$P" wait_listen ::1 "$P"
check "testd answers on 127.0.0.1:$Q" wait_listen 127.0.0.1 "$Q"

FLAGS=(-m 5 --connect-timeout 3 --retry 0)
F='"\(.ok) \(.error) \(.remote_ip)"'

# run_salvo ARGS...: one record in $r, the wall time in $wall.
run_salvo() {
    local t0
    t0=$(now)
    r=$("$SALVO" "${FLAGS[@]}" "$@")
    wall=$(since "$t0")
}

# --- --resolve with a list of addresses ---------------------------------------------

# Dead IPv4 first: one stagger, then IPv6 wins.
run_salvo --resolve "he.test:$P:127.0.0.1,[::1]" "http://he.test:$P/"
check_eq "dead address first: ok on the live one" "true null ::1" "$(jq -r "$F" <<<"$r")"
c=$(jq -r .connect_ms <<<"$r")
check_le "... connected after one stagger (connect_ms $c >= 200)" 200 "$c"
check_le "... not after the connect timeout (connect_ms $c < 1500)" "$c" 1499.999
check_le "... total well under the 3 s connect timeout" "$(jq -r .total_ms <<<"$r")" 1500
check_le "... the run too (${wall} s)" "$wall" 2.5

# Live IPv6 first: at once.
run_salvo --resolve "he.test:$P:[::1],127.0.0.1" "http://he.test:$P/"
check_eq "live address first: ok on it" "true null ::1" "$(jq -r "$F" <<<"$r")"
c=$(jq -r .connect_ms <<<"$r")
check_le "... connected at once (connect_ms $c < 200)" "$c" 199.999

# The other way round: dead IPv6 first, IPv4 wins. No family is special.
run_salvo --resolve "he.test:$Q:[::1],127.0.0.1" "http://he.test:$Q/"
check_eq "dead IPv6 first: ok on IPv4" "true null 127.0.0.1" "$(jq -r "$F" <<<"$r")"
c=$(jq -r .connect_ms <<<"$r")
check_le "... after one stagger (connect_ms $c >= 200)" 200 "$c"
check_le "... and well before the connect timeout (connect_ms $c < 1500)" "$c" 1499.999

# Several requests at once, each on its own connection: every one wins the same way.
for i in 1 2 3 4 5 6; do echo "http://he.test:$P/?n=$i"; done >"$T_DIR/six.txt"
t0=$(now)
"$SALVO" "${FLAGS[@]}" --no-keepalive -c 6 --resolve "he.test:$P:127.0.0.1,[::1]" \
    -i "$T_DIR/six.txt" >"$T_DIR/six.jsonl"
wall=$(since "$t0")
check_eq "six at once, dead address first: six ok on ::1" 6 \
    "$(jq_count '.ok and .remote_ip == "::1"' "$T_DIR/six.jsonl")"
check_le "... in about one stagger (${wall} s)" "$wall" 2.5

# --- a resolver answering A and AAAA -------------------------------------------------

start_dnsmasq he --address=/he.test/127.0.0.1 --address=/he.test/::1 --local=/test/ || exit 1
D=(--dns-servers "127.0.0.1:$DNS_PORT")

run_salvo "${D[@]}" "http://he.test:$P/"
r1=$r
check_eq "DNS, 127.0.0.1 dead: ok on ::1" "true null ::1" "$(jq -r "$F" <<<"$r1")"
check_le "... total well under the connect timeout" "$(jq -r .total_ms <<<"$r1")" 1500
check_eq "... the resolver was asked for A and AAAA" "1 1" \
    "$(grep -c 'query\[A\] he.test' "$DNS_LOG") $(grep -c 'query\[AAAA\] he.test' "$DNS_LOG")"

run_salvo "${D[@]}" "http://he.test:$Q/"
r2=$r
check_eq "DNS, ::1 dead: ok on 127.0.0.1" "true null 127.0.0.1" "$(jq -r "$F" <<<"$r2")"
check_le "... total well under the connect timeout" "$(jq -r .total_ms <<<"$r2")" 1500

# Whichever family the resolver's answer puts first, one of the two layouts had its dead
# address first and waited one stagger; the other connected at once.
c1=$(jq -r .connect_ms <<<"$r1")
c2=$(jq -r .connect_ms <<<"$r2")
lo=$(awk -v a="$c1" -v b="$c2" 'BEGIN{print (a < b ? a : b)}')
hi=$(awk -v a="$c1" -v b="$c2" 'BEGIN{print (a < b ? b : a)}')
check_le "one layout waited a stagger (connect_ms $c1 / $c2)" 200 "$hi"
check_le "... and the other connected at once" "$lo" 199.999
check_le "... and none waited out the connect timeout" "$hi" 1499.999

finish
