#!/usr/bin/env bash
# --resume with -o FILE: a 1,000-URL run killed with SIGKILL at three moments (early, in
# the middle, late), then interrupted once with SIGINT, each time resumed with the same
# command: the final FILE has exactly 1,000 parseable records, one per index, none
# cancelled, and the summary and exit status cover the whole FILE. A torn last line is
# dropped and its URL fetched again; an input that changed under FILE is exit 2 with
# nothing sent; --resume without -o FILE, or with another format, is a usage error.
. "$(dirname "$0")/../lib.sh"
start_testd resume || exit 1
U="http://127.0.0.1:$TESTD_PORT"
N=1000
in="$T_DIR/in.txt"
# Delays of 0..120 ms at -c 20 make a run of about 3 s: long enough to be killed in it.
# Every 100th URL is a 404, so the whole run's exit status is 1.
for i in $(seq 0 $((N - 1))); do
    if [ $((i % 100)) -eq 7 ]; then echo "$U/status/404?i=$i"; else echo "$U/delay/$((i % 7 * 20))?i=$i"; fi
done >"$in"
out="$T_DIR/out.jsonl"
cmd=("$SALVO" -s -c 20 --retry 0 --resume -i "$in" -o "$out")
run() { "${cmd[@]}" "$@"; }

# wait_lines COUNT: until FILE holds COUNT lines (at most 10 s).
wait_lines() {
    local i
    for i in $(seq 1 200); do
        [ "$(cat "$out" 2>/dev/null | wc -l)" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# Three SIGKILLs: each resumed run is killed once FILE has grown past a mark.
for mark in 50 250 450; do
    "${cmd[@]}" 2>/dev/null & # salvo itself, so that the signal reaches it
    pid=$!
    wait_lines "$mark"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$(wc -l <"$out")" >>"$T_DIR/marks"
done
check "the three SIGKILLs landed mid-run (FILE short of $N records each time)" \
    awk -v n=$N '$1 >= n { exit 1 }' "$T_DIR/marks"
# A torn line, as a kill in the middle of a write leaves it (no newline).
printf '{"index":999,"url":"%s/delay/0?i=9' "$U" >>"$out"

# Then Ctrl-C once (SIGINT): the records in flight are written as cancelled.
"${cmd[@]}" 2>/dev/null &
pid=$!
wait_lines $(($(wc -l <"$out") + 50))
kill -INT "$pid"
wait "$pid"
check_eq "SIGINT: exit 130" 130 "$?"
cancelled=$(jq_count '.error == "cancelled"' "$out")

run --summary 2>"$T_DIR/final.err"
rc=$?
check_eq "the last resume: exit 1 (the whole FILE has 404s)" 1 "$rc"
check_eq "FILE: $N records, all parseable, one per index" "$N $N $N" \
    "$(wc -l <"$out") $(jq -c . "$out" | wc -l) $(jq .index "$out" | sort -u | wc -l)"
check_eq "none cancelled (there were $cancelled after the SIGINT)" 0 \
    "$(jq_count '.error != null' "$out")"
check_eq "each record is its line's URL" "" \
    "$(jq -r '[.index, .url] | @tsv' "$out" | sort -n |
        awk -F'\t' 'NR == FNR { url[FNR - 1] = $0; next } url[$1] != $2' "$in" -)"
check_eq "the summary counts the whole FILE" "records  $N: $((N - 10)) ok, 10 not ok" \
    "$(grep '^records' "$T_DIR/final.err")"

# Nothing left to fetch: the same answer, nothing sent.
before=$(stat -c %s "$out")
run --summary 2>"$T_DIR/again.err"
check_eq "nothing left: exit 1 again, FILE unchanged, the same summary" \
    "1 $before records  $N: $((N - 10)) ok, 10 not ok" \
    "$? $(stat -c %s "$out") $(grep '^records' "$T_DIR/again.err")"

# The input changed under FILE: exit 2, nothing appended.
sed '5s/i=4$/i=four/' "$in" >"$T_DIR/changed.txt"
"$SALVO" -s --resume -i "$T_DIR/changed.txt" -o "$out" 2>"$T_DIR/changed.err"
check_eq "a changed input: exit 2, said, FILE unchanged" "2 1 $before" \
    "$? $(grep -c 'the input changed' "$T_DIR/changed.err") $(stat -c %s "$out")"
# The same through a pipe, which is checked as it is read.
"$SALVO" -s --resume -o "$out" <"$T_DIR/changed.txt" 2>"$T_DIR/changed2.err"
check_eq "a changed input on stdin: exit 2" "2 1" \
    "$? $(grep -c 'the input changed' "$T_DIR/changed2.err")"

# Usage errors.
"$SALVO" --resume "$U/status/200" >/dev/null 2>"$T_DIR/u1"
check_eq "--resume without -o: exit 2" "2 1" "$? $(grep -c 'resume needs -o' "$T_DIR/u1")"
"$SALVO" --resume --format csv -o "$T_DIR/x.csv" "$U/status/200" 2>"$T_DIR/u2"
check_eq "--resume with csv: exit 2, no file" "2 1 no" \
    "$? $(grep -c 'resume needs -o' "$T_DIR/u2") $([ -e "$T_DIR/x.csv" ] && echo yes || echo no)"
finish
