#!/usr/bin/env bash
# salvo's own DNS path against a real resolver (dnsmasq on a loopback port): many names
# at once with no false failure, the TTL cache, one query per name, and pins.
. "$(dirname "$0")/../lib.sh"
start_testd dnsd || exit 1
start_dnsmasq names --address=/many.test/127.0.0.1 --address=/one.test/127.0.0.1 \
    --local=/test/ || exit 1
D="--dns-servers 127.0.0.1:$DNS_PORT"
out=$T_DIR/out.jsonl

# 1,000 distinct names in one run.
for i in $(seq 1 1000); do echo "http://n$i.many.test:$TESTD_PORT/"; done >"$T_DIR/1000.txt"
"$SALVO" $D -c 500 -i "$T_DIR/1000.txt" --retry 0 --stats >"$out" 2>"$T_DIR/stats"
check_eq "1,000 names resolved in one run: 1,000 ok records" 1000 "$(jq_count '.ok' "$out")"
check_eq "... with no DNS failure" 0 "$(jq_count '.error == "dns" or .error == "dns_timeout"' "$out")"
check_eq "... one lookup per name" 1000 "$(tail -1 "$T_DIR/stats" | jq .dns_queries)"

# The same name 50 times, at once: one query for it (coalesced), and the cache answers
# the ones that come later.
before=$(dns_queries one.test)
for i in $(seq 1 50); do echo "http://www.one.test:$TESTD_PORT/"; done >"$T_DIR/50.txt"
"$SALVO" $D -c 50 -i "$T_DIR/50.txt" --stats >"$out" 2>"$T_DIR/stats"
after=$(dns_queries one.test)
check_eq "50 requests for one name: all ok" 50 "$(jq_count '.ok' "$out")"
check_eq "... and the resolver saw one query per address family" 2 $((after - before))
check_eq "... salvo sent one lookup" 1 "$(tail -1 "$T_DIR/stats" | jq .dns_queries)"

# Sequentially (-c 1), each on a new connection: the first request resolves, the next
# ones hit the cache.
before=$(dns_queries www2.one.test)
"$SALVO" $D -c 1 --no-keepalive "http://www2.one.test:$TESTD_PORT/" "http://www2.one.test:$TESTD_PORT/" \
    "http://www2.one.test:$TESTD_PORT/" --stats >"$out" 2>"$T_DIR/stats"
after=$(dns_queries www2.one.test)
check_eq "cache hits send no query (3 requests, one A+AAAA pair)" 2 $((after - before))
check_eq "... dns_ms is 0 on the two cache hits" 2 \
    "$(jq -s 'map(select(.dns_ms == 0)) | length' "$out")"
check_eq "... two cache hits counted" 2 "$(tail -1 "$T_DIR/stats" | jq .dns_cache_hits)"

# NXDOMAIN is dns and is cached briefly (never a timeout).
r=$("$SALVO" $D --retry 2 "http://nope.test:$TESTD_PORT/")
check_eq "NXDOMAIN -> dns, not retried" "dns 1" "$(jq -r '"\(.error) \(.attempts)"' <<<"$r")"

# --resolve pins a name and port to an address: no query at all.
before=$(grep -c query "$DNS_LOG")
r=$("$SALVO" $D --resolve "pinned.test:$TESTD_PORT:127.0.0.1" "http://pinned.test:$TESTD_PORT/")
after=$(grep -c query "$DNS_LOG")
check_eq "--resolve answers without a query" "true 0" "$(jq -r .ok <<<"$r") $((after - before))"
r=$("$SALVO" --resolve "pin6.test:$TESTD_PORT:[::1]" --retry 0 "http://pin6.test:$TESTD_PORT/")
check_eq "--resolve with an IPv6 address" "::1" "$(jq -r .remote_ip <<<"$r")"
"$SALVO" --resolve "broken" "http://x.test/" >/dev/null 2>"$T_DIR/err"
check_eq "a malformed --resolve is a usage error" 2 $?
"$SALVO" --dns-servers "not an address" "http://x.test/" >/dev/null 2>"$T_DIR/err"
check_eq "a malformed --dns-servers is a usage error" 2 $?

finish
