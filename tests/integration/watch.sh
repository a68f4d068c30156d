#!/usr/bin/env bash
# --watch SEC: rounds of the same input on one engine. --watch 1 for 3 rounds puts 3 x N
# records on stdout with round 1..3, and rounds 2 and 3 reuse round 1's connections and
# DNS answers; with -o FILE, a reader polling FILE every 10 ms only ever finds N whole
# records of one round (FILE is replaced whole); SIGINT in the middle of a round leaves
# FILE with the last whole round and exits 130; --compare compares each round with the one
# before; a round longer than SEC says so and the next starts at once; --watch with stdin,
# -o - or --resume is a usage error.
. "$(dirname "$0")/../lib.sh"
start_testd watch || exit 1
start_dnsmasq watch --address=/watch.test/127.0.0.1 || exit 1
H="http://watch.test:$TESTD_PORT"
D=(--dns-servers "127.0.0.1:$DNS_PORT")
N=40
for i in $(seq 1 $N); do echo "$H/size/$((i * 10))?i=$i"; done >"$T_DIR/in.txt"

# wait_lines FILE COUNT: until FILE holds COUNT lines (at most 15 s).
wait_lines() {
    local i
    for i in $(seq 1 300); do
        [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# Three rounds on stdout, stopped by SIGINT while the fourth waits for its start.
"$SALVO" -s -c 10 --watch 1 "${D[@]}" -i "$T_DIR/in.txt" >"$T_DIR/rounds.jsonl" &
pid=$!
wait_lines "$T_DIR/rounds.jsonl" $N
q1=$(dns_queries watch.test) # round 1 is over: its lookups are done
wait_lines "$T_DIR/rounds.jsonl" $((3 * N))
sleep 0.2
kill -INT "$pid"
wait "$pid"
check_eq "SIGINT between rounds: exit 130" 130 "$?"
check_eq "3 x $N records, rounds 1..3, each index once per round" \
    "$((3 * N)) 1,2,3 $((3 * N))" \
    "$(jq -c 'select(.round <= 3)' "$T_DIR/rounds.jsonl" | wc -l) \
$(jq -s -c 'map(.round) | unique | map(tostring) | join(",")' -r "$T_DIR/rounds.jsonl") \
$(jq -r '"\(.round) \(.index)"' "$T_DIR/rounds.jsonl" | sort -u | wc -l)"
check "round 1 opens connections" test "$(jq_count '.round == 1 and .reused == false' \
    "$T_DIR/rounds.jsonl")" -ge 1
check_eq "rounds 2 and 3 reuse them: all $((2 * N)) requests" "$((2 * N))" \
    "$(jq_count '.round > 1 and .reused == true' "$T_DIR/rounds.jsonl")"
check_eq "the name was looked up in round 1 only ($q1 queries)" "$q1" "$(dns_queries watch.test)"

# The DNS cache carries over too: without keep-alive every request connects again, yet
# rounds 2 and 3 send no query.
"$SALVO" -s -c 10 --no-keepalive --watch 1 "${D[@]}" -i "$T_DIR/in.txt" >"$T_DIR/nka.jsonl" &
pid=$!
wait_lines "$T_DIR/nka.jsonl" $N
q1=$(dns_queries watch.test)
wait_lines "$T_DIR/nka.jsonl" $((3 * N))
kill -INT "$pid"
wait "$pid"
check_eq "--no-keepalive: 3 rounds, none reused, no query after round 1" "0 $q1" \
    "$(jq_count '.reused == true' "$T_DIR/nka.jsonl") $(dns_queries watch.test)"
check_eq "... and rounds 2 and 3 found the name in the cache (dns_ms 0)" "$((2 * N))" \
    "$(jq_count '.round > 1 and .dns_ms == 0' "$T_DIR/nka.jsonl")"

# -o FILE: a reader polling every 10 ms sees N whole records of one round, every time.
out="$T_DIR/latest.jsonl"
"$SALVO" -s -c 10 --watch 0.3 "${D[@]}" -i "$T_DIR/in.txt" -o "$out" 2>"$T_DIR/o.err" &
pid=$!
cat >"$T_DIR/poll.py" <<'PY'
# poll.py FILE N SECONDS: reads FILE every 10 ms; each read must hold N whole records of
# one round. Prints the number of reads and the rounds seen.
import json, sys, time
path, n, until = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
reads, rounds, bad = 0, set(), []
while time.monotonic() < until:
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        time.sleep(0.01)
        continue
    reads += 1
    lines = data.split("\n")
    recs = [json.loads(l) for l in lines[:-1]] if data.endswith("\n") else None
    if recs is None or len(recs) != n or len({r["round"] for r in recs}) != 1:
        bad.append(data[-200:])
    else:
        rounds.add(recs[0]["round"])
    time.sleep(0.01)
print(reads, len(rounds), len(bad))
if bad:
    print(bad[0], file=sys.stderr)
PY
res=$(python3 "$T_DIR/poll.py" "$out" "$N" 3)
read -r reads nrounds nbad <<<"$res"
check "the reader polled often and saw several rounds ($res)" \
    test "$reads" -gt 50 -a "$nrounds" -ge 3
check_eq "every read found $N whole records of one round" 0 "$nbad"
check_eq "FILE has the mode a new file gets (umask), readable by a collector" \
    "$(printf '%o' $((0666 & ~$(umask))))" "$(stat -c %a "$out")"

# SIGINT in the middle of a round: FILE keeps the last whole round, no temporary is left.
last=$(jq -s 'map(.round) | max' "$out")
"$SALVO" -s -c 1 --watch 1 "${D[@]}" "$H/delay/3000" -o "$T_DIR/slow.jsonl" &
pid2=$!
sleep 0.5
kill -INT "$pid" "$pid2"
wait "$pid"
r1=$?
wait "$pid2"
r2=$?
check_eq "SIGINT: exit 130, FILE whole (one round of $N), no temporary left" \
    "130 130 $N 1 0" \
    "$r1 $r2 $(wc -l <"$out") $(jq -s 'map(.round) | unique | length' "$out") \
$(ls "$T_DIR" | grep -c 'round\.')"
check "... a round no earlier than the last one read before the signal" \
    test "$(jq -s 'map(.round) | max' "$out")" -ge "$last"
check_eq "a first round cut short by SIGINT leaves no FILE" no \
    "$([ -e "$T_DIR/slow.jsonl" ] && echo yes || echo no)"

# --compare: round 1 against FILE (every record new), round 2 against round 1 (one
# status flipped by a server-side counter: /status/500 then /status/200 would need state,
# so the input file is edited between rounds instead).
echo "$H/status/200?x" >"$T_DIR/cmp.txt"
: >"$T_DIR/empty.jsonl"
"$SALVO" -s --watch 1 "${D[@]}" --compare "$T_DIR/empty.jsonl" -i "$T_DIR/cmp.txt" \
    >"$T_DIR/cmp.jsonl" 2>/dev/null &
pid=$!
wait_lines "$T_DIR/cmp.jsonl" 1
echo "$H/status/200?x" >"$T_DIR/cmp.txt" # the same URL: unchanged in round 2
echo '{"url": "'"$H"'/status/503", "name": "flip"}' >>"$T_DIR/cmp.txt"
wait_lines "$T_DIR/cmp.jsonl" 3
kill -INT "$pid"
wait "$pid"
check_eq "--compare per round: new, then unchanged and new (the input file is read again)" \
    "1 new|2 new|2 null" \
    "$(jq -r 'select(.round <= 2) | "\(.round) \(.change // "null")"' "$T_DIR/cmp.jsonl" |
        sort | paste -sd'|')"

# A round longer than SEC: said on stderr, the next starts at once.
"$SALVO" -s --watch 0.2 "${D[@]}" "$H/delay/400" >"$T_DIR/over.jsonl" 2>"$T_DIR/over.err" &
pid=$!
wait_lines "$T_DIR/over.jsonl" 2
kill -INT "$pid"
wait "$pid"
check "an overrun round is said on stderr" grep -q "more than --watch 0.2: the next starts now" \
    "$T_DIR/over.err"

# Usage errors, before anything is sent.
for bad in "-i -" "-o -" "--resume -o $T_DIR/r.jsonl" "--watch 0"; do
    # shellcheck disable=SC2086 # the words of $bad are separate arguments
    "$SALVO" --watch 1 $bad "$H/size/1" </dev/null >"$T_DIR/u.out" 2>"$T_DIR/u.err"
    check_eq "--watch with $bad: exit 2, a message, no record" "2 1 0" \
        "$? $(wc -l <"$T_DIR/u.err") $(wc -c <"$T_DIR/u.out")"
done
# -i naming a pipe: each round must read the input from its start, so it is refused.
mkfifo "$T_DIR/fifo"
echo "$H/size/1" >"$T_DIR/fifo" &
writer=$!
"$SALVO" --watch 1 -i "$T_DIR/fifo" >"$T_DIR/f.out" 2>"$T_DIR/f.err"
check_eq "--watch -i FIFO: exit 2, said, no record" "2 1 0" \
    "$? $(grep -c 'regular file' "$T_DIR/f.err") $(wc -c <"$T_DIR/f.out")"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
finish
