#!/usr/bin/env bash
# The programs of examples/ against the test server: each prints what its top comment
# promises. fetch_many reports every URL, failures included; stream_feed reads stdin
# lazily, without blocking the requests in flight; blocking_mistake's sleeping callback
# is named by the lag report on stderr, and its fixed version is not. Then the salvo
# command's own lag report, --debug-loop MS.
. "$(dirname "$0")/../lib.sh"
EX=$SALVO_BUILD/examples
start_testd examples || exit 1
U="http://127.0.0.1:$TESTD_PORT"
sha() { printf "$@" | sha256sum | cut -d' ' -f1; }

# lag_lines FILE: the lag report lines of FILE, as "MS THRESHOLD" (one per line).
lag_lines() {
    sed -nE 's/^salvo: loop: .+ held the thread for ([0-9.]+) ms \(over ([0-9.]+) ms\)$/\1 \2/p' "$1"
}

# ---- fetch_many ---------------------------------------------------------------------
refused_port=$(free_port)
"$EX/fetch_many" "$U/" "$U/status/404" "$U/size/1000" "http://127.0.0.1:$refused_port/" \
    "not a url" >"$T_DIR/many.out" 2>"$T_DIR/many.err"
rc=$?
check_eq "fetch_many: exit 1 when a result is not ok" 1 "$rc"
check_eq "fetch_many: one line per URL, by index: status, error, bytes, url" \
    "0 200 ok 6 $U/
1 404 ok 11 $U/status/404
2 200 ok 1000 $U/size/1000
3 0 connect_refused 0 http://127.0.0.1:$refused_port/
4 0 bad_url 0 not" \
    "$(sort -n "$T_DIR/many.out" | awk '{print $1, $2, $3, $4, $6}')"
check_eq "fetch_many: a request that never started has no total" "- not a url" \
    "$(awk '$1 == 4 {print $5, $6, $7, $8}' "$T_DIR/many.out")"
check "fetch_many: a failure carries its message" \
    grep -q "^3 0 connect_refused 0 [0-9.]* http://127.0.0.1:$refused_port/ ." "$T_DIR/many.out"
check_eq "fetch_many: nothing on stderr" "" "$(cat "$T_DIR/many.err")"

# Ten answers that each take 500 ms, fetched at once: the server sees all ten waiting
# together (a second server, so that its counters see only these).
start_testd many || exit 1
M="http://127.0.0.1:$TESTD_PORT"
urls=()
for i in $(seq 0 9); do urls+=("$M/delay/500?i=$i"); done
"$EX/fetch_many" "${urls[@]}" >"$T_DIR/slow.out" 2>&1
check_eq "fetch_many: ten slow URLs, exit 0" "0 10" "$? $(grep -c ' 200 ok 3 ' "$T_DIR/slow.out")"
check_eq "fetch_many: the server held all ten requests at once" 10 \
    "$(curl -s "$M/__stats" | jq .max_active)"

# ---- stream_feed --------------------------------------------------------------------
# A producer that writes its second URL only once the first result is out: a feed that
# waited for more input with a blocking read would hold every request until then.
mkfifo "$T_DIR/feed.in"
"$EX/stream_feed" <"$T_DIR/feed.in" >"$T_DIR/feed.out" 2>"$T_DIR/feed.err" &
feed_pid=$!
T_PIDS+=("$feed_pid")
exec 7>"$T_DIR/feed.in"
printf '%s\n' "$U/size/100" >&7
first_before_second=no
for i in $(seq 1 100); do
    grep -q '^0 ' "$T_DIR/feed.out" && { first_before_second=yes; break; }
    sleep 0.05
done
# A comment, a blank line, padding, and a last line with no newline.
printf '# a comment\n\n  %s  \r\n%s' "$U/status/204" "$U/size/7" >&7
exec 7>&-
wait "$feed_pid"
rc=$?
check_eq "stream_feed: the first result came before the second URL was written" yes \
    "$first_before_second"
check_eq "stream_feed: every URL of the input, in index order" \
    "0 200 ok $U/size/100
1 204 ok $U/status/204
2 200 ok $U/size/7" "$(sort -n "$T_DIR/feed.out")"
check_eq "stream_feed: exit 0 and a count on stderr" "0 stream_feed: 3 URLs, 0 not ok" \
    "$rc $(cat "$T_DIR/feed.err")"

# A file far longer than the engine's window (100): every URL once, in the end.
for i in $(seq 0 999); do echo "$U/size/$((i % 50))"; done >"$T_DIR/long.txt"
"$EX/stream_feed" <"$T_DIR/long.txt" >"$T_DIR/long.out" 2>"$T_DIR/long.err"
rc=$?
check_eq "stream_feed: 1000 URLs from a file, exit 0" "0 stream_feed: 1000 URLs, 0 not ok" \
    "$rc $(cat "$T_DIR/long.err")"
check_eq "stream_feed: indices 0 to 999, each once" "1000 0 999" \
    "$(cut -d' ' -f1 "$T_DIR/long.out" | sort -n | uniq | awk 'NR == 1 {a = $1} {b = $1; n++} END {print n, a, b}')"
check_eq "stream_feed: each index has its own URL" 0 \
    "$(awk -v u="$U" '$4 != u "/size/" ($1 % 50) || $2 != 200' "$T_DIR/long.out" | wc -l)"

# ---- blocking_mistake ---------------------------------------------------------------
"$EX/blocking_mistake" "$U/" "$U/size/5" "$U/status/201" >"$T_DIR/mistake.out" \
    2>"$T_DIR/mistake.err"
rc=$?
check_eq "blocking_mistake: exit 0, three results, three records saved" "0 3 3" \
    "$rc $(grep -cE '^[0-9]+ 20[01] ok ' "$T_DIR/mistake.out") $(grep -c '^saved ' "$T_DIR/mistake.out")"
check_eq "blocking_mistake: results as fetched" "0 200 ok $U/
1 200 ok $U/size/5
2 201 ok $U/status/201" "$(grep -v '^saved' "$T_DIR/mistake.out" | sort -n)"
lag_lines "$T_DIR/mistake.err" >"$T_DIR/mistake.lag"
check_eq "blocking_mistake: the lag report names each 200 ms callback, over 50 ms" "3 3" \
    "$(wc -l <"$T_DIR/mistake.lag") $(awk '$1 >= 200 && $2 == 50' "$T_DIR/mistake.lag" | wc -l)"
check_eq "blocking_mistake: stderr holds the reports and the longest hold, nothing else" 4 \
    "$(wc -l <"$T_DIR/mistake.err")"
check_le "blocking_mistake: the longest hold is at least the 200 ms sleep" 200 \
    "$(sed -n 's/^blocking_mistake: a callback held the thread for up to \([0-9]*\) ms$/\1/p' "$T_DIR/mistake.err")"

"$EX/blocking_mistake" --queue "$U/" "$U/size/5" "$U/status/201" >"$T_DIR/fixed.out" \
    2>"$T_DIR/fixed.err"
rc=$?
check_eq "blocking_mistake --queue: exit 0, the same results, all saved after the run" \
    "0 $(grep -v '^saved' "$T_DIR/mistake.out" | sort -n | tr '\n' ' ')saved 0 200 saved 1 200 saved 2 201" \
    "$rc $(grep -v '^saved' "$T_DIR/fixed.out" | sort -n | tr '\n' ' ')$(grep '^saved' "$T_DIR/fixed.out" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "blocking_mistake --queue: no lag report" "" "$(grep '^salvo: loop:' "$T_DIR/fixed.err")"

# ---- salvo --debug-loop -------------------------------------------------------------
for v in abc 0 -5 12x ''; do
    "$SALVO" --debug-loop "$v" "$U/" >"$T_DIR/dl.out" 2>"$T_DIR/dl.err"
    rc=$?
    check_eq "--debug-loop '$v': exit 2, one line naming the flag, no record" "2 1 1 0" \
        "$rc $(wc -l <"$T_DIR/dl.err") $(grep -c -- "--debug-loop" "$T_DIR/dl.err") $(wc -l <"$T_DIR/dl.out")"
done
check "--debug-loop is in salvo --help" bash -c "'$SALVO' --help | grep -q -- '--debug-loop MS'"

# Records go to a pipe whose reader starts late: once the pipe is full, writing a record
# blocks the thread inside the engine's callback, which is what --debug-loop is for.
for i in $(seq 0 399); do echo "$U/size/10?i=$i"; done >"$T_DIR/dl.txt"
"$SALVO" --debug-loop 50 -i "$T_DIR/dl.txt" 2>"$T_DIR/dl.err" | { sleep 0.5; wc -l; } \
    >"$T_DIR/dl.count"
check_eq "--debug-loop 50: every record arrives through the slow pipe" 400 \
    "$(tr -d ' ' <"$T_DIR/dl.count")"
lag_lines "$T_DIR/dl.err" >"$T_DIR/dl.lag"
check_le "--debug-loop 50: the callback stuck on the full pipe is reported" 1 \
    "$(awk '$1 > 50 && $2 == 50' "$T_DIR/dl.lag" | wc -l)"
check_eq "--debug-loop 50: stderr holds only lag reports" "$(wc -l <"$T_DIR/dl.err")" \
    "$(wc -l <"$T_DIR/dl.lag")"
"$SALVO" -i "$T_DIR/dl.txt" 2>"$T_DIR/nodl.err" | { sleep 0.5; wc -l; } >/dev/null
check_eq "without --debug-loop: the same run reports nothing" "" "$(cat "$T_DIR/nodl.err")"

finish
