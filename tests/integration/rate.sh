#!/usr/bin/env bash
# --rate and --per-host-rate: attempt starts are paced evenly, for the whole run and per
# origin. Measured at the server: testd logs the arrival time of every request, so a
# burst shows however salvo reports its own times. Bounds are loose: they catch a pacer
# that does not pace, bursts, or serialises the origins, not a few milliseconds.
. "$(dirname "$0")/../lib.sh"
LOG=$T_DIR/requests.log
start_testd rate --listen 127.0.0.1:0 --listen 127.0.0.2:0 --listen 127.0.0.3:0 \
    --listen 127.0.0.4:0 --log-requests "$LOG" || exit 1
mapfile -t ports <"$T_DIR/rate.port"
H1=127.0.0.1:${ports[0]}
out=$T_DIR/out.jsonl

# max_in_window US [ADDR]: the most requests the log holds within any US microseconds
# (of those that arrived at ADDR, when given), from line FROM on (1 unless set).
FROM=1
max_in_window() {
    tail -n +"$FROM" "$LOG" | awk -v w="$1" -v a="${2:-}" 'a == "" || $2 == a { t[n++] = $1 }
        END { m = 0; j = 0
              for (i = 0; i < n; i++) { while (t[i] - t[j] >= w) j++; if (i - j + 1 > m) m = i - j + 1 }
              print m }'
}
logged() { tail -n +"$FROM" "$LOG" | awk -v a="${1:-}" 'a == "" || $2 == a' | wc -l; }
mark() { FROM=$(($(wc -l <"$LOG") + 1)); }

# --- the whole run: 300 starts at 100/s ------------------------------------------------
for i in $(seq 1 300); do echo "http://$H1/?i=$i"; done >"$T_DIR/300.txt"
mark
t0=$(now)
"$SALVO" -c 20 --rate 100/s -i "$T_DIR/300.txt" >"$out"
wall=$(since "$t0")
check_eq "--rate 100/s: 300 records, all ok" "300 300" "$(wc -l <"$out") $(jq_count .ok "$out")"
check_eq "... 300 requests reached the server" 300 "$(logged)"
check_le "... they took at least 2.9 s (${wall} s)" 2.9 "$wall"
check_le "... and at most 4 s" "$wall" 4
m=$(max_in_window 100000)
check_le "... evenly: at most 12 in any 100 ms ($m)" "$m" 12

# The unit: 600/m is 10 a second.
mark
t0=$(now)
"$SALVO" --rate 600/m "http://$H1/?m="{1..6} >"$out"
wall=$(since "$t0")
check_eq "--rate 600/m: six ok" 6 "$(jq_count .ok "$out")"
check_le "... five intervals of 100 ms at least (${wall} s)" 0.48 "$wall"
check_le "... and not much more" "$wall" 2

# --- per origin: three sites in parallel, each at 10/s ---------------------------------
: >"$T_DIR/hosts.txt"
for i in $(seq 1 30); do
    for h in 2 3 4; do echo "http://127.0.0.$h:${ports[h - 1]}/?i=$i"; done
done >"$T_DIR/hosts.txt"
mark
t0=$(now)
"$SALVO" -c 50 --per-host-rate 10/s -i "$T_DIR/hosts.txt" >"$out"
wall=$(since "$t0")
check_eq "--per-host-rate 10/s: 90 ok" 90 "$(jq_count .ok "$out")"
check_le "... each host paced: 30 starts take at least 2.8 s (${wall} s)" 2.8 "$wall"
check_le "... the three in parallel: well under 9 s" "$wall" 4.5
for h in 2 3 4; do
    m=$(max_in_window 1000000 "127.0.0.$h")
    check_le "... 127.0.0.$h: at most 12 in any second ($m of $(logged "127.0.0.$h"))" "$m" 12
done
m=$(max_in_window 1000000)
check_le "... all three together: more than one host's worth in a second ($m)" 25 "$m"

# A paced site does not hold the others back, even ahead of them in the input and with
# a single slot: the slot is not held while waiting for the pace.
{
    for i in $(seq 1 10); do echo "http://127.0.0.2:${ports[1]}/?a=$i"; done
    for i in $(seq 1 10); do echo "http://127.0.0.3:${ports[2]}/?b=$i"; done
} >"$T_DIR/ab.txt"
mark
t0=$(now)
"$SALVO" -c 1 --per-host-rate 5/s -i "$T_DIR/ab.txt" >"$out"
wall=$(since "$t0")
check_eq "-c 1 --per-host-rate 5/s, two sites: 20 ok" 20 "$(jq_count .ok "$out")"
check_le "... in about 1.8 s, not 3.8 s (${wall} s)" "$wall" 3
first_b=$(tail -n +"$FROM" "$LOG" | grep -n ' 127.0.0.3 ' | head -1 | cut -d: -f1)
check_le "... the second site started before the first was done (line $first_b)" "$first_b" 5

# --- retries and redirects pay for their starts -----------------------------------------
for i in $(seq 1 10); do echo "http://$H1/status/503?r=$i"; done >"$T_DIR/503.txt"
mark
t0=$(now)
"$SALVO" -c 10 --retry 2 --retry-backoff 0 --rate 20/s -i "$T_DIR/503.txt" >"$out"
wall=$(since "$t0")
check_eq "10 URLs x 3 attempts: 30 requests" 30 "$(logged)"
check_le "... at 20/s they take at least 1.4 s (${wall} s)" 1.4 "$wall"
check_le "... and not much more" "$wall" 3

for i in $(seq 1 8); do echo "http://$H1/redirect/302?to=%2F%3Fr%3D$i"; done >"$T_DIR/302.txt"
mark
t0=$(now)
"$SALVO" -L -c 8 --rate 20/s -i "$T_DIR/302.txt" >"$out"
wall=$(since "$t0")
check_eq "8 redirects followed: 16 requests, 8 ok" "16 8" "$(logged) $(jq_count .ok "$out")"
check_le "... at 20/s at least 0.7 s (${wall} s)" 0.7 "$wall"

# --- the blocking baseline sleeps until its start ---------------------------------------
mark
t0=$(now)
"$SALVO" --blocking --rate 20/s "http://$H1/?b="{1..8} >"$out"
wall=$(since "$t0")
check_eq "--blocking --rate 20/s: 8 ok" 8 "$(jq_count .ok "$out")"
check_le "... at least 0.33 s (${wall} s)" 0.33 "$wall"
m=$(max_in_window 40000)
check_le "... never two within 40 ms ($m)" "$m" 1

# --- bad values: a usage error before anything is sent ----------------------------------
mark
for v in 0 -1 5/x abc 1/ /s 0.0/s inf nan 1e400 ' 5' 1/d; do
    "$SALVO" --rate "$v" "http://$H1/" >/dev/null 2>"$T_DIR/err"
    rc=$?
    check_eq "--rate '$v': exit 2 with a message" "2 1" "$rc $(grep -c -- "--rate" "$T_DIR/err")"
done
"$SALVO" --per-host-rate 0 "http://$H1/" >/dev/null 2>&1
check_eq "--per-host-rate 0: exit 2" 2 $?
"$SALVO" --rate 0.000001/h "http://$H1/" >/dev/null 2>&1
check_eq "--rate slower than one start a year: exit 2" 2 $?
check_eq "... nothing was sent" 0 "$(logged)"

finish
