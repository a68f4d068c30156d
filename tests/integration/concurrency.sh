#!/usr/bin/env bash
# The point of salvo: many sites at once, in about the time of the slowest one, within
# the slot limits. Timing margins are generous (at least twice the ideal): these show the
# design works; bench/ measures its speed.
. "$(dirname "$0")/../lib.sh"
start_testd slow --delay-all 500 || exit 1
start_dnsmasq sites --address=/sites.test/127.0.0.1 || exit 1
out=$T_DIR/out.jsonl

# 200 URLs on 200 host names, each answering after 500 ms, with -c 200.
for i in $(seq 1 200); do echo "http://site$i.sites.test:$TESTD_PORT/"; done >"$T_DIR/200.txt"
start=$(now)
"$SALVO" -c 200 --dns-servers "127.0.0.1:$DNS_PORT" -i "$T_DIR/200.txt" --stats \
    >"$out" 2>"$T_DIR/stats"
el=$(since "$start")
check_eq "200 sites: 200 records" 200 "$(wc -l <"$out")"
check_eq "200 sites: all ok" 200 "$(jq_count '.ok' "$out")"
check_le "200 sites x 500 ms at -c 200 finish within two delays (1 s)" "$el" 1.0
check_eq "200 distinct names were resolved through the resolver" 200 \
    "$(tail -1 "$T_DIR/stats" | jq .dns_queries)"

# -c 10 over 40 URLs on 40 names: never more than 10 in flight (the engine's own counter), and the
# server never saw more than 10 at once either.
start_testd c10 --delay-all 200 || exit 1
for i in $(seq 1 40); do echo "http://c$i.sites.test:$TESTD_PORT/"; done >"$T_DIR/40.txt"
start=$(now)
"$SALVO" -c 10 --dns-servers "127.0.0.1:$DNS_PORT" -i "$T_DIR/40.txt" --stats >"$out" 2>"$T_DIR/stats"
el=$(since "$start")
check_eq "-c 10: 40 records" 40 "$(wc -l <"$out")"
check_eq "-c 10: the engine never had more than 10 in flight" 10 \
    "$(tail -1 "$T_DIR/stats" | jq .max_in_flight)"
check_eq "-c 10: the server never saw more than 10 at once" 10 \
    "$(curl -s "http://127.0.0.1:$TESTD_PORT/__stats" | jq .max_active)"
check_le "-c 10 over 40 x 200 ms: about 4 rounds, under 8" "$el" 1.6
check "queue_ms grows for URLs that waited for a slot" \
    test "$(jq -s 'map(.queue_ms) | max' "$out" | cut -d. -f1)" -ge 150

finish
