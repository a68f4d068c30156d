#!/usr/bin/env bash
# Soak: --watch 1 over 500 URLs (ordinary ones and a share of resets, garbage, early
# closes and refused ports) for 20 rounds, on one engine. salvo's VmRSS is sampled from
# /proc/PID/status as each round's last record arrives: from round 3 on it stays flat
# (each round's RSS within 10% or 2 MiB of round 3's, whichever is larger), so the pool,
# the DNS cache and the per-round state do not grow with the rounds. Then SIGINT: exit
# 130, and every round complete. SALVO_BUILD chooses the build, as everywhere.
. "$(dirname "$0")/../lib.sh"
start_testd soak || exit 1
U="http://127.0.0.1:$TESTD_PORT"
CLOSED_PORT=$(free_port)
N=500
ROUNDS=20
in="$T_DIR/in.txt"
for i in $(seq 0 $((N - 1))); do
    case $((i % 10)) in
        0) echo "$U/reset-mid/20000?i=$i" ;;
        1) echo "$U/garbage?i=$i" ;;
        2) echo "$U/close-early/20000?i=$i" ;;
        3) echo "http://127.0.0.1:$CLOSED_PORT/?i=$i" ;;
        4) echo "$U/gzip/$((i * 10))?i=$i" ;;
        *) echo "$U/size/$((i * 20))?i=$i" ;;
    esac
done >"$in"
out="$T_DIR/out.jsonl"
timeout 120 "$SALVO" -s --watch 1 -c 100 -m 2 --retry 0 -i "$in" >"$out" 2>"$T_DIR/err" &
pid=$!
T_PIDS+=("$pid")
rss=()
deadline=$(($(date +%s) + 60))
while [ ${#rss[@]} -lt $ROUNDS ] && [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
    done_rounds=$(($(wc -l <"$out") / N))
    if [ "$done_rounds" -gt ${#rss[@]} ]; then
        # timeout's child is salvo: sample it, not timeout.
        spid=$(pgrep -P "$pid" | head -1)
        rss+=("$(awk '/^VmRSS/ { print $2 }' "/proc/${spid:-$pid}/status" 2>/dev/null)")
    fi
    sleep 0.05
done
kill -INT "$(pgrep -P "$pid" | head -1)" 2>/dev/null
wait "$pid"
rc=$?
echo "# VmRSS (KiB) after rounds 1..${#rss[@]}: ${rss[*]}"
check_eq "$ROUNDS rounds sampled" "$ROUNDS" "${#rss[@]}"
check_eq "SIGINT: exit 130" 130 "$rc"
complete=$(jq -r '.round' "$out" | sort -n | uniq -c | awk -v n=$N '$1 == n' | wc -l)
check_le "at least $ROUNDS complete rounds of $N records" "$ROUNDS" "$complete"
if [ ${#rss[@]} -ge 3 ]; then
    base=${rss[2]}
    max=$(printf '%s\n' "${rss[@]:2}" | sort -n | tail -1)
    allow=$(awk -v b="$base" 'BEGIN { a = b * 0.10; if (a < 2048) a = 2048; printf "%d", b + a }')
    echo "# round 3: $base KiB, max of rounds 3..${#rss[@]}: $max KiB, allowed $allow KiB"
    check_le "RSS flat after round 2: max of rounds 3..$ROUNDS within 10% or 2 MiB of round 3's" "$max" "$allow"
fi
finish
