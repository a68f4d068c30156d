#!/usr/bin/env bash
# Soak: a 5,000-URL run with --resume killed by SIGKILL at 20 random moments, each time
# started again with the same command, then run to its end: FILE holds exactly 5,000
# parseable records, one per index, none cancelled, each its line's URL.
. "$(dirname "$0")/../lib.sh"
start_testd soak || exit 1
U="http://127.0.0.1:$TESTD_PORT"
N=5000
in="$T_DIR/in.txt"
for i in $(seq 0 $((N - 1))); do echo "$U/delay/$((i % 11 * 10))?i=$i"; done >"$in"
out="$T_DIR/out.jsonl"
cmd=("$SALVO" -s -c 50 --retry 0 --resume -i "$in" -o "$out")
kills=0
for k in $(seq 1 20); do
    "${cmd[@]}" 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 40 + 5))" # 0.05 to 0.44 s into the run
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" 2>/dev/null
done
echo "# $kills of 20 runs were killed; FILE had $(wc -l <"$out") lines before the last run"
"${cmd[@]}"
check_eq "after 20 SIGKILLs and a last run: exit 0" 0 "$?"
check_eq "FILE: $N records, all parseable, one per index, none failed" "$N $N $N 0" \
    "$(wc -l <"$out") $(jq -c . "$out" | wc -l) $(jq .index "$out" | sort -u | wc -l) $(jq_count '.error != null' "$out")"
check_eq "each record is its line's URL" "" \
    "$(jq -r '[.index, .url] | @tsv' "$out" | sort -n |
        awk -F'\t' 'NR == FNR { url[FNR - 1] = $0; next } url[$1] != $2' "$in" -)"
finish
