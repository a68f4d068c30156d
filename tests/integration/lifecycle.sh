#!/usr/bin/env bash
# A run's life: interrupted by a signal, streaming a huge input through bounded memory,
# and a -c larger than the fd limit allows.
. "$(dirname "$0")/../lib.sh"
start_testd life || exit 1
U="http://127.0.0.1:$TESTD_PORT"
out=$T_DIR/out.jsonl

# SIGINT: every URL already read gets a record (cancelled when unfinished), exit 130.
for i in $(seq 1 20); do echo "$U/stall"; done >"$T_DIR/stall.txt"
"$SALVO" -c 5 -i "$T_DIR/stall.txt" "$U/" >"$out" 2>"$T_DIR/err" &
pid=$!
for i in $(seq 1 50); do [ -s "$out" ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
check_eq "SIGINT exits 130" 130 $?
check_eq "every URL read got one record" 21 "$(wc -l <"$out")"
check_eq "... the unfinished ones are cancelled" 20 "$(jq_count '.error == "cancelled"' "$out")"
check_eq "... and the finished one is ok" 1 "$(jq_count '.ok' "$out")"
check "the interruption is reported on stderr" grep -q interrupted "$T_DIR/err"

"$SALVO" -c 2 "$U/stall" "$U/stall" >"$out" 2>/dev/null &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
check_eq "SIGTERM exits 143" 143 $?
check_eq "... with both records" 2 "$(wc -l <"$out")"

# The blocking baseline stops at SIGINT even while it sleeps before a retry.
"$SALVO" --blocking --retry 3 --retry-backoff-max 10 "$U/retry-after/bi/5/5" \
    >"$out" 2>/dev/null & # Retry-After: 5 makes the sleep certain

pid=$!
sleep 0.5
start=$(now)
kill -INT "$pid"
wait "$pid"
rc=$?
check_eq "--blocking: SIGINT during a backoff exits 130" 130 "$rc"
check_le "... at once, not after the sleep" "$(since "$start")" 1
check_eq "... with the URL's record, cancelled after one attempt" "cancelled 1" \
    "$(jq -r '"\(.error) \(.attempts)"' "$out")"

# A million lines do not need a million lines of memory: the input is read through a
# bounded window, so peak memory for 1,000,000 URLs is about that for 20,000.
# Malformed lines cost no network, so this measures the input path alone. (Under ASan,
# freed memory sits in a quarantine: keep it small so RSS means what it says.)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1"
gen() { python3 -c "
import sys
w = sys.stdout.write
for i in range($1): w('bad-url-%d\\n' % i)"; }
gen 20000 >"$T_DIR/small.txt"
gen 1000000 >"$T_DIR/million.txt"
/usr/bin/time -f '%M' -o "$T_DIR/rss-small" "$SALVO" -c 50 -i "$T_DIR/small.txt" >/dev/null
/usr/bin/time -f '%M' -o "$T_DIR/rss" "$SALVO" -c 50 -i "$T_DIR/million.txt" 2>/dev/null |
    wc -l >"$T_DIR/n"
check_eq "a million-line input: a million records" 1000000 "$(cat "$T_DIR/n")"
small=$(tail -1 "$T_DIR/rss-small")
big=$(tail -1 "$T_DIR/rss")
echo "# peak RSS: 20,000 URLs ${small} KB, 1,000,000 URLs ${big} KB"
check_le "... in the memory of 20,000 (within 25% + 4 MB)" "$big" \
    "$(awk -v s="$small" 'BEGIN{print int(s * 1.25 + 4096)}')"

# A slow producer on a pipe never stalls the requests in flight: the first URL (300 ms)
# finishes while the producer still sleeps before writing the second.
(echo "$U/delay/300"; sleep 1.5; echo "$U/") | "$SALVO" >"$out"
check_eq "a pipe that is slow to write: both URLs fetched" 2 "$(jq_count '.ok' "$out")"
check_le "... and the first finished in its own time, not the producer's (ms)" \
    "$(jq -r 'select(.index == 0) | .total_ms' "$out")" 1000
(echo "$U/delay/300"; sleep 1.5; echo "$U/") | "$SALVO" --blocking >"$out"
check_eq "the blocking baseline reads the same pipe too" 2 "$(jq_count '.ok' "$out")"
printf '%s/size/3\n%s/size/4' "$U" "$U" | "$SALVO" >"$out"
check_eq "a last line without a newline still counts" "3 4" \
    "$(jq -r .bytes "$out" | sort | tr '\n' ' ' | sed 's/ $//')"

# Fd limit: a -c that cannot fit is lowered with one warning, and the run still works.
(
    ulimit -n 200
    "$SALVO" -c 1000 "$U/" >"$out" 2>"$T_DIR/err"
)
check_eq "-c over the fd limit still runs" 1 "$(jq_count '.ok' "$out")"
check "... with a one-line warning" grep -q "does not fit the open-file limit" "$T_DIR/err"
(
    ulimit -n 100
    for i in $(seq 1 300); do echo "$U/delay/200"; done | "$SALVO" -c 80 --stats \
        >"$out" 2>"$T_DIR/err"
)
check_eq "300 URLs under a 100-fd limit: all ok" 300 "$(jq_count '.ok' "$out")"

finish
