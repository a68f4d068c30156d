#!/usr/bin/env bash
# The keep-alive pool and the per-origin limits: reuse, the per-host cap counted on the
# server side (none by default), idle connections closed by the server, --no-keepalive,
# per-IP caps and adaptive politeness (overload slows an origin down, a few broken paths
# do not).
. "$(dirname "$0")/../lib.sh"
start_testd pool || exit 1
U="http://127.0.0.1:$TESTD_PORT"
out=$T_DIR/out.jsonl
accepts() { curl -s "http://127.0.0.1:$1/__stats" | jq .accepts; }

# 1,000 requests to one origin with --per-host 4: at most 4 connections were accepted.
for i in $(seq 1 1000); do echo "$U/size/1000"; done >"$T_DIR/1000.txt"
"$SALVO" -c 50 --per-host 4 -i "$T_DIR/1000.txt" --stats >"$out" 2>"$T_DIR/stats"
check_eq "1,000 requests, one origin: all ok" 1000 "$(jq_count '.ok' "$out")"
a=$(($(accepts "$TESTD_PORT") - 1)) # minus the /__stats request itself
check_le "--per-host 4: the server accepted at most 4 connections" "$a" 4
check "... and at least 1" test "$a" -ge 1
check_le "... salvo opened at most 4" "$(tail -1 "$T_DIR/stats" | jq .connections_opened)" 4
check_eq "... and says so in the record (reused on all but the first ones)" \
    "$((1000 - $(tail -1 "$T_DIR/stats" | jq .connections_opened)))" "$(jq_count '.reused' "$out")"
check_eq "a reused connection has no dns/connect phase" 0 \
    "$(jq_count '.reused and (.connect_ms != null or .dns_ms != null)' "$out")"

# --no-keepalive: every request on a connection of its own, announced to the server.
start_testd nokeep || exit 1
for i in $(seq 1 20); do echo "http://127.0.0.1:$TESTD_PORT/"; done >"$T_DIR/20.txt"
"$SALVO" -c 5 --no-keepalive -i "$T_DIR/20.txt" >"$out"
check_eq "--no-keepalive: 20 requests, 20 connections" 20 $(($(accepts "$TESTD_PORT") - 1))
check_eq "... none reused" 0 "$(jq_count '.reused' "$out")"
want=$(printf 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n' \
    "$TESTD_PORT" "$("$SALVO" --version | cut -d' ' -f2)" | sha256sum | cut -d' ' -f1)
check_eq "... and each request says Connection: close" "$want" \
    "$("$SALVO" --no-keepalive --hash "http://127.0.0.1:$TESTD_PORT/echo" | jq -r .sha256)"

# A server that closes idle connections after 1 s: a pause of 2 s loses nothing. With
# -c 1, the 2.5 s request to another origin keeps the first origin's connection idle.
start_testd idle --idle-close 1 || exit 1
I="http://127.0.0.1:$TESTD_PORT"
"$SALVO" -c 1 --idle-timeout 30 "$I/" "$I/" "$U/delay/2500" "$I/" "$I/" >"$out"
check_eq "idle connections closed by the server: 100% success across a 2 s pause" 5 \
    "$(jq_count '.ok' "$out")"
check_eq "... the request after the pause did not reuse the dead connection as an attempt" \
    "1 1 1 1 1" "$(jq -r .attempts "$out" | tr '\n' ' ' | sed 's/ $//')"

# --idle-timeout: salvo's own idle limit closes the connection first.
start_testd idle2 || exit 1
I2="http://127.0.0.1:$TESTD_PORT"
"$SALVO" -c 1 --idle-timeout 0.3 "$I2/" "$U/delay/800" "$I2/" >"$out"
check_eq "--idle-timeout 0.3: the connection idle for 0.8 s was not reused" \
    "false" "$(jq -r "select(.index == 2) | .reused" "$out")"
check_eq "... so the server saw two connections" 2 $(($(accepts "$TESTD_PORT") - 1))

# --max-idle 0 keeps nothing.
start_testd maxidle || exit 1
"$SALVO" -c 1 --max-idle 0 "http://127.0.0.1:$TESTD_PORT/" "http://127.0.0.1:$TESTD_PORT/" >"$out"
check_eq "--max-idle 0: no reuse" 0 "$(jq_count '.reused' "$out")"

# --per-ip: two origins (names) on one address share its cap.
start_testd perip --delay-all 300 || exit 1
for i in $(seq 1 6); do
    echo "http://a.test:$TESTD_PORT/"
    echo "http://b.test:$TESTD_PORT/"
done >"$T_DIR/ip.txt"
"$SALVO" -c 20 --per-ip 2 --resolve "a.test:$TESTD_PORT:127.0.0.1" \
    --resolve "b.test:$TESTD_PORT:127.0.0.1" -i "$T_DIR/ip.txt" >"$out"
check_eq "--per-ip 2: all ok" 12 "$(jq_count '.ok' "$out")"
check_eq "... the address never had more than 2 requests at once" 2 \
    "$(curl -s "http://127.0.0.1:$TESTD_PORT/__stats" | jq .max_active)"

# Adaptive politeness. Eight URLs of one origin (--per-host 8) each answer 503 once, then
# 200, every answer after 200 ms. The first wave of eight 503s halves the origin's
# allowed concurrency down to 1; it then grows by one per success (1, 2, 4 at once), so
# the eight retries take four rounds, not one: at least 1.0 s in all instead of 0.4 s.
# The lower bound cannot be met by luck: the server's delays set it.
start_testd polite --delay-all 200 || exit 1
for i in $(seq 1 8); do echo "http://127.0.0.1:$TESTD_PORT/flaky/k$i/1/503"; done >"$T_DIR/p.txt"
start=$(now)
"$SALVO" -c 50 --per-host 8 --retry 1 --retry-backoff 0.01 -i "$T_DIR/p.txt" >"$out"
el=$(since "$start")
check_eq "503 answers retried: all recover" 8 "$(jq_count '.ok and .attempts == 2' "$out")"
check_le "after eight 503s the origin got its retries one, two, four at a time ($el s)" \
    0.95 "$el"
check_le "... and no more slowly than that" "$el" 3

# A few broken paths are not overload: ten quick 503s ahead of 100 one-second requests
# of the same origin, at -c 100. The 503s' slots free at once and the last ten requests
# take them, so all 100 one-second requests are in the server at the same time unless the
# origin was slowed down (its share halved at each 503, it would wait for the first 90).
# --per-host 0 (no cap) keeps this about politeness alone.
start_testd fewbroken || exit 1
{
    for i in $(seq 1 10); do echo "http://127.0.0.1:$TESTD_PORT/status/503"; done
    for i in $(seq 1 100); do echo "http://127.0.0.1:$TESTD_PORT/delay/1000"; done
} >"$T_DIR/few.txt"
"$SALVO" -c 100 --per-host 0 --retry 0 -i "$T_DIR/few.txt" >"$out"
check_eq "ten 503s then 100 one-second requests: all answered" "10 100" \
    "$(jq_count '.status == 503' "$out") $(jq_count '.ok' "$out")"
check_eq "... the origin was not slowed down: 100 requests at once in the server" 100 \
    "$(curl -s "http://127.0.0.1:$TESTD_PORT/__stats" | jq .max_active)"

# No cap per origin by default beyond -c: 30 one-second requests to one origin at -c 30
# are all in the server at once.
start_testd nocap || exit 1
for i in $(seq 1 30); do echo "http://127.0.0.1:$TESTD_PORT/delay/1000"; done >"$T_DIR/30.txt"
"$SALVO" -c 30 -i "$T_DIR/30.txt" >"$out"
check_eq "default --per-host: 30 requests to one origin, all ok" 30 "$(jq_count '.ok' "$out")"
check_eq "... all 30 at once in the server" 30 \
    "$(curl -s "http://127.0.0.1:$TESTD_PORT/__stats" | jq .max_active)"

# A server that answers before reading the whole body: the rest of the body never runs
# into the next request on the same connection (it is not pooled until all was sent).
python3 "$SALVO_ROOT/tests/server/early_answer.py" "$T_DIR/early.port" "$T_DIR/early.log" &
T_PIDS+=($!)
for i in $(seq 1 50); do [ -s "$T_DIR/early.port" ] && break; sleep 0.1; done
E="http://127.0.0.1:$(cat "$T_DIR/early.port")"
head -c 20000000 /dev/zero >"$T_DIR/body.bin"
"$SALVO" -c 1 --retry 0 -m 5 -d @"$T_DIR/body.bin" "$E/first" "$E/second" >"$out"
check_eq "an early answer to a large POST: both requests answered" 2 "$(jq_count '.status == 200' "$out")"
check_eq "... the second did not reuse the connection with unsent body" "false" \
    "$(jq -r 'select(.index == 1) | .reused' "$out")"
check_eq "... and no request ever followed a body's leftovers" 0 \
    "$(grep -c after-body "$T_DIR/early.log")"

finish
