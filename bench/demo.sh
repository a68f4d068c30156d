#!/usr/bin/env bash
# bench/demo.sh -- `make demo`: 200 web sites that each answer after 250 ms, fetched first
# by the blocking baseline (salvo --blocking: one URL at a time, about 50 s) and then by
# salvo at -c 200, with both summaries side by side and the speed-up.
#
# The sites are the farm of bench/farm.sh: one local nginx listening on 127.1.0.1 ..
# 127.1.0.200, each address a site (siteK.farm.test, pinned with --resolve, so no name
# goes to the system resolver). Everything runs on this machine; the farm and every
# process started here are stopped by their PID at exit. Takes about a minute.
#
# The records of both runs stay in bench/results/demo/ (DEMO_RESULTS=DIR for another
# directory): blocking.jsonl and salvo.jsonl, and waterfall.png, their waterfalls side by
# side (bench/waterfall.sh), each panel with its own time axis.
set -u
cd "$(dirname "$0")/.." || exit 2
export SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/farm.sh
N=${DEMO_SITES:-200}
DELAY=${DEMO_DELAY_MS:-250}
C=${DEMO_CONCURRENCY:-200}
OUT=${DEMO_RESULTS:-bench/results/demo}
mkdir -p "$OUT" || { echo "demo: cannot create $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
[ -x "$SALVO" ] || { echo "demo: no $SALVO: run make first" >&2; exit 2; }
command -v jq >/dev/null || { echo "demo: needs jq (make deps)" >&2; exit 2; }

# pct FILE P: the P-quantile of total_ms; errors FILE: error classes and counts; oks FILE;
# secs T0 T1: seconds between two date +%s%N.
pct() { jq -r '.total_ms // empty' "$1" | sort -g | awk -v p="$2" '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else { i = int(NR * p + 0.999); if (i < 1) i = 1; printf "%.0f ms", v[i] } }'; }
errors() {
    local e
    e=$(jq -r '.error // empty' "$1" | sort | uniq -c | awk '{ printf "%s%s x%d", s, $2, $1; s = ", " }')
    echo "${e:-none}"
}
oks() { echo "$(grep -c '"ok":true' "$1") of $(wc -l <"$1") ok"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f s", (b - a) / 1e9 }'; }

# fetch NAME ARGS...: one salvo run over the demo's URLs, records to $OUT/NAME.jsonl,
# bounded by four times the baseline's expected time plus a minute; on a terminal a
# progress line is redrawn beside it. Sets T0 and T1 (ns, around the run).
fetch() {
    local name=$1 pid prog=""
    shift
    : >"$OUT/$name.jsonl"
    T0=$(date +%s%N)
    timeout -k 5 $((N * DELAY * 4 / 1000 + 60)) "$SALVO" "$@" "${PINS[@]}" -i "$T_DIR/urls.txt" \
        -o "$OUT/$name.jsonl" 2>"$T_DIR/$name.err" &
    pid=$!
    T_PIDS+=("$pid")
    if [ -t 1 ]; then
        progress "$name" "$pid" &
        prog=$!
        T_PIDS+=("$prog")
    fi
    wait "$pid"
    T1=$(date +%s%N)
    if [ -n "$prog" ]; then
        kill "$prog" 2>/dev/null
        wait "$prog" 2>/dev/null
        printf '\r%60s\r' ""
    fi
}

# progress NAME PID: redraws "NAME: K of N done" every half second while PID runs.
progress() {
    local k
    while kill -0 "$2" 2>/dev/null; do
        k=$(wc -l <"$OUT/$1.jsonl")
        printf '\r   %s: %d of %d done, %s' "$1" "$k" "$N" "$(secs "$T0" "$(date +%s%N)")"
        sleep 0.5
    done
}

echo "Starting a farm of $N web sites on this machine (one nginx, 127.1.0.1 .. 127.1.0.$N)..."
farm_start "$N" || exit 1
farm_pins "$N" "$T_DIR/pins.txt"
farm_pin_args "$T_DIR/pins.txt"
farm_urls "$N" "$N" "/delay/$DELAY" >"$T_DIR/urls.txt"
echo "Each site answers after $DELAY ms: $(head -1 "$T_DIR/urls.txt") ..."
echo

echo "1. The blocking baseline (salvo --blocking): one URL after the other,"
echo "   about $N x $DELAY ms = $((N * DELAY / 1000)) s."
fetch blocking --blocking
B0=$T0 B1=$T1
echo "   done in $(secs "$B0" "$B1")."
echo "2. salvo -c $C: all of them at once."
fetch salvo -c "$C"
S0=$T0 S1=$T1
echo "   done in $(secs "$S0" "$S1")."
echo

row() { printf '  %-16s %-24s %-24s\n' "$1" "$2" "$3"; }
row "" "blocking baseline" "salvo -c $C"
row "" "-----------------" "-----------------"
row "records" "$(oks "$OUT/blocking.jsonl")" "$(oks "$OUT/salvo.jsonl")"
row "wall time" "$(secs "$B0" "$B1")" "$(secs "$S0" "$S1")"
row "total_ms p50" "$(pct "$OUT/blocking.jsonl" 0.5)" "$(pct "$OUT/salvo.jsonl" 0.5)"
row "total_ms p90" "$(pct "$OUT/blocking.jsonl" 0.9)" "$(pct "$OUT/salvo.jsonl" 0.9)"
row "errors" "$(errors "$OUT/blocking.jsonl")" "$(errors "$OUT/salvo.jsonl")"
echo
awk -v b=$((B1 - B0)) -v s=$((S1 - S0)) -v n="$N" -v d="$DELAY" 'BEGIN {
    printf "Speed-up: %.0fx. Each request still takes about %d ms; salvo waits for all %d\n", b / s, d, n
    printf "at once instead of one after the other.\n" }'
farm_stop
echo "The farm is stopped."
if bench/waterfall.sh "$OUT/blocking.jsonl" "$OUT/waterfall.png" "blocking baseline (salvo --blocking)" \
    "$OUT/salvo.jsonl" "salvo -c $C"; then
    echo
    echo "The waterfall of both runs (one bar per request, each panel on its own time axis):"
    echo "  $OUT/waterfall.png"
    echo "Records: $OUT/blocking.jsonl, $OUT/salvo.jsonl"
fi
