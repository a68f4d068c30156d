#!/usr/bin/env bash
# The blocking baseline (--blocking) and the engine agree: on the same mixed input they
# give the same status, bytes, sha256 and error class per URL.
#
# The baseline resolves with getaddrinfo, which reads /etc/resolv.conf. So that no query
# leaves the machine, both run in a private mount namespace whose /etc/resolv.conf names
# a dnsmasq of this test on 127.53.0.1 (a loopback address; port 53 is what resolv.conf
# implies).
. "$(dirname "$0")/../lib.sh"
start_testd agree || exit 1
U="http://127.0.0.1:$TESTD_PORT"
N="http://site.farm.test:$TESTD_PORT"
refused=$(free_port)

dnsmasq --keep-in-foreground --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address=127.53.0.1 --bind-interfaces --port=53 --user=root --pid-file= \
    --address=/farm.test/127.0.0.1 --local=/test/ >"$T_DIR/dnsmasq.out" 2>&1 &
T_PIDS+=($!)
for i in $(seq 1 50); do grep -q started "$T_DIR/dnsmasq.out" 2>/dev/null && break; sleep 0.1; done
echo "nameserver 127.53.0.1" >"$T_DIR/resolv.conf"
in_ns() { unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T_DIR/resolv.conf" "$@"; }
check "the private resolver answers inside the namespace" \
    in_ns getent hosts site.farm.test

urls=(
    "$N/"                                     # 200 through the resolver
    "$U/status/404"                           # 404
    "$U/redirect/302?to=%2Fsize%2F1000"       # a redirect (followed with -L)
    "$U/gzip/20000"                           # gzip
    "$U/chunked/30000"                        # chunked
    "http://127.0.0.1:$refused/"              # refused
    "http://unknown.test:$TESTD_PORT/"        # an unknown name
    "$U/close-early/1000"                     # partial
    "$U/garbage"                              # protocol
    "ftp://x.test/"                           # unsupported scheme
)
fields='[.index, .status, .error, .bytes, .sha256, .final_url] | @tsv'
for mode in engine blocking; do
    flag=(); [ "$mode" = blocking ] && flag=(--blocking)
    in_ns "$SALVO" "${flag[@]}" -L --hash --retry 0 -m 5 "${urls[@]}" \
        >"$T_DIR/$mode.jsonl" 2>"$T_DIR/$mode.err"
    jq -r "$fields" "$T_DIR/$mode.jsonl" | sort -n >"$T_DIR/$mode.tsv"
done
check_eq "both give one record per URL" "${#urls[@]} ${#urls[@]}" \
    "$(wc -l <"$T_DIR/engine.tsv") $(wc -l <"$T_DIR/blocking.tsv")"
check "the baseline's records match the engine's (status, error, bytes, sha256, final_url)" \
    diff "$T_DIR/engine.tsv" "$T_DIR/blocking.tsv"
check_eq "... and the classes are the expected ones" \
    "null null null null null connect_refused dns partial protocol unsupported_scheme" \
    "$(cut -f3 "$T_DIR/blocking.tsv" | sed 's/^$/null/' | tr '\n' ' ' | sed 's/ $//')"
check_eq "the baseline reuses no connection" 0 "$(jq_count '.reused' "$T_DIR/blocking.jsonl")"

# One URL at a time: 5 URLs of 200 ms take about a second, not 200 ms.
start=$(now)
in_ns "$SALVO" --blocking "$U/delay/200" "$U/delay/200" "$U/delay/200" "$U/delay/200" \
    "$U/delay/200" >/dev/null
el=$(since "$start")
check "the baseline really is sequential (5 x 200 ms took $el s)" \
    awk -v t="$el" 'BEGIN{exit !(t >= 1.0)}'

finish
