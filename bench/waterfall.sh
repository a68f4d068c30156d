#!/usr/bin/env bash
# bench/waterfall.sh -- a waterfall of a salvo run, drawn from its records with gnuplot.
#
#   bench/waterfall.sh RECORDS.jsonl OUT.png [TITLE]
#   bench/waterfall.sh RECORDS.jsonl OUT.png TITLE RECORDS2.jsonl [TITLE2] ...
#
# One horizontal bar per request: y = the request, ranked by start_ms (the first to start
# at the top); x = milliseconds since the start of the run. A bar starts at start_ms and is
# split into the phases of the record, in order: dns_ms, connect_ms, tls_ms, ttfb_ms,
# transfer_ms (null = 0). The time waiting for a slot (queue_ms) is drawn faint before
# start_ms. Whatever total_ms holds beyond those phases is drawn as "other": before the
# final attempt's phases when the request took more than one attempt or followed a
# redirect (earlier attempts, backoff sleeps and hops happened before it), else between
# the connection and the answer (writing the request), so every bar ends at
# start_ms + total_ms. A record with no start_ms (it never got a slot) has no bar; lines
# that are not records (a torn last line) are skipped.
#
# More RECORDS [TITLE] pairs after the first TITLE add panels side by side, each with its
# own x range (said in its title), e.g. a blocking run beside a concurrent one. TITLE
# defaults to the file name. The bars come from one data file per panel (boxxyerror), so
# tens of thousands of records are fine. Needs jq and gnuplot only.
set -u
usage() { echo "usage: $0 RECORDS.jsonl OUT.png [TITLE [RECORDS2.jsonl [TITLE2]] ...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
for tool in jq gnuplot awk sort; do
    command -v "$tool" >/dev/null || { echo "waterfall: needs $tool" >&2; exit 2; }
done

OUT=$2
FILES=("$1")
TITLES=("${3:-$(basename "$1")}")
shift 2
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
    FILES+=("$1")
    TITLES+=("${2:-$(basename "$1")}")
    shift
    [ $# -gt 0 ] && shift
done
for f in "${FILES[@]}"; do
    [ -r "$f" ] || { echo "waterfall: cannot read $f" >&2; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/salvo-waterfall.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT

# The phases, in drawing order (data file DAT.P for phase P), their names and colours.
PHASES=(queue other dns connect tls ttfb transfer)
NAMES=("queue" "other" "dns" "connect" "tls" "ttfb" "transfer")
COLOURS=("#e4e4e4" "#aa3377" "#66ccee" "#228833" "#ccbb44" "#ee6677" "#4477aa")

# panel_data RECORDS DAT: writes the boxes of phase P (0-based, in PHASES order) to DAT.P,
# "rank x0 x1" a line, and prints
# "requests skipped xmax count_queue count_other ... count_transfer".
panel_data() {
    jq -R -r 'fromjson? | select(type == "object") |
        if .start_ms == null then "skip"
        else [.start_ms, (.index // 0), (.queue_ms // 0), (.dns_ms // 0), (.connect_ms // 0),
              (.tls_ms // 0), (.ttfb_ms // 0), (.transfer_ms // 0), (.total_ms // 0),
              (if (.attempts // 1) > 1 or (.redirects // 0) > 0 then 1 else 0 end)] | @tsv
        end' "$1" | sort -t "$(printf '\t')" -k1,1g -k2,2n | awk -F '\t' -v dat="$2" '
        # box P FROM TO: one box of phase P (0-based) on the current row.
        function box(p, a, b) {
            if (b <= a) return
            printf "%d %.3f %.3f\n", rank, a, b > (dat "." p)
            cnt[p]++
            if (b > xmax) xmax = b
        }
        $1 == "skip" { skipped++; next }
        {
            rank++
            s = $1 + 0; q = $3 + 0; total = $9 + 0; multi = $10 + 0
            sum = 0
            for (i = 4; i <= 8; i++) sum += $i
            other = total - sum
            if (other < 0) other = 0
            box(0, s - q < 0 ? 0 : s - q, s)
            x = s
            if (multi) { box(1, x, x + other); x += other }
            for (i = 4; i <= 6; i++) { box(i - 2, x, x + $i); x += $i }   # dns connect tls
            if (!multi) { box(1, x, x + other); x += other }
            for (i = 7; i <= 8; i++) { box(i - 2, x, x + $i); x += $i }   # ttfb transfer
            if (x > xmax) xmax = x
        }
        END {
            printf "%d %d %.3f", rank, skipped, xmax
            for (p = 0; p < 7; p++) printf " %d", cnt[p]
            printf "\n"
        }'
}

# gq TEXT: TEXT as a gnuplot double-quoted string (a newline in TEXT breaks the line).
gq() {
    local t=${1//\\/\\\\}
    t=${t//\"/\\\"}
    t=${t//$'\n'/\\n}
    printf '"%s"' "$t"
}

K=${#FILES[@]}
WIDTH=$((K == 1 ? 1000 : 800 * K))
{
    echo "set terminal pngcairo size $WIDTH,650 font ',10' noenhanced"
    echo "set output $(gq "$OUT")"
    echo "set style fill solid 1.0 noborder"
    echo "set grid xtics"
    echo "set key below horizontal maxrows 1"
    printf 'set xlabel "%s\\n%s"\n' "ms since the start of the run" \
        "queue: waiting for a slot; other: earlier attempts, backoff sleeps, redirect hops, writing the request"
    echo "set ylabel 'request (ranked by start_ms)'"
    echo "set format x '%.0f'"
    [ "$K" -gt 1 ] && echo "set multiplot layout 1,$K"
} >"$TMP/plot.gp"

for i in "${!FILES[@]}"; do
    dat="$TMP/panel$i.dat"
    read -r n skipped xmax counts <<<"$(panel_data "${FILES[$i]}" "$dat")"
    read -r -a cnt <<<"$counts"
    title="${TITLES[$i]}: $n requests"
    [ "${skipped:-0}" -gt 0 ] && title="$title ($skipped never started, not drawn)"
    if [ "${n:-0}" -eq 0 ]; then
        {
            echo "set title $(gq "$title")"
            echo "unset key; unset xtics; unset ytics; set xrange [0:1]; set yrange [0:1]"
            echo "set label 1 'no request started' at 0.5,0.5 center"
            echo "plot NaN notitle"
            echo "unset label 1; set xtics; set ytics; set key below horizontal maxrows 1"
        } >>"$TMP/plot.gp"
        continue
    fi
    hi=$(awk -v x="$xmax" 'BEGIN { printf "%.3f", (x > 0 ? x : 1) * 1.03 }')
    [ "$K" -gt 1 ] && title="$title
own x scale: 0 to $(awk -v x="$xmax" 'BEGIN { printf "%.0f", x }') ms"
    clauses=()
    for p in "${!PHASES[@]}"; do
        [ "${cnt[$p]:-0}" -gt 0 ] || continue
        # x (the middle), y, x from, x to, y from, y to.
        # shellcheck disable=SC2016 # gnuplot's $N, not the shell's
        using='using ($2+$3)/2:1:2:3:($1-0.42):($1+0.42)'
        clauses+=("$(gq "$dat.$p") $using with boxxyerror lc rgb '${COLOURS[$p]}' title $(gq "${NAMES[$p]}")")
    done
    {
        echo "set title $(gq "$title")"
        echo "set xrange [0:$hi]"
        echo "set yrange [$n + 0.5:0.5]"
        printf 'plot '
        sep=""
        for c in "${clauses[@]}"; do printf '%s%s' "$sep" "$c"; sep=", \\
     "; done
        echo
    } >>"$TMP/plot.gp"
done
[ "$K" -gt 1 ] && echo "unset multiplot" >>"$TMP/plot.gp"

gnuplot "$TMP/plot.gp" 2>"$TMP/gnuplot.err" || {
    echo "waterfall: gnuplot failed:" >&2
    cat "$TMP/gnuplot.err" >&2
    exit 1
}
[ -s "$OUT" ] || { echo "waterfall: no $OUT" >&2; exit 1; }
