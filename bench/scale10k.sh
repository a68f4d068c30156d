#!/usr/bin/env bash
# bench/scale10k.sh -- the scale row on its own: 10,000 URLs that each answer after 1 s,
# over 100 sites of the farm (bench/farm.sh; 100 URLs per site, each site on its own
# 127.1.0.K address), all in flight at once (salvo -c 10000). Prints the median wall
# time, CPU and peak RSS of REPS runs, the RSS per connection above an idle salvo, and
# where the time of the median run went, from its records.
#
#   bench/scale10k.sh                         URLS=10000 SITES=100 DELAY=1000 C=10000 REPS=3
#   TRACE=1 bench/scale10k.sh                 also one run with --trace: when the first and
#                                             the last request entered each state
#   URLS=2000 C=2000 REPS=1 bench/scale10k.sh  a smaller run
#
# Idle salvo = peak RSS of `salvo -c 1` on one URL of /delay/0 (median of REPS runs), the
# same start-up without the connections. RSS per connection = (peak RSS - idle) / C.
# From each record (all times from the start of the run, in ms):
#   slot   start_ms: the request got its slot (the input read, the scheduling pass)
#   sent   start_ms + total_ms - ttfb_ms - transfer_ms: the request went out (DNS,
#          waiting for the pass that connects, the connect itself)
#   lag    ttfb_ms - DELAY: what the server and salvo's reading added to the delay (the
#          server reads the request and starts its timer late, salvo reads the answer late)
#   done   start_ms + total_ms
# The floor: bench/floor_client (built by make bench) sends the same requests from one
# thread with nothing but the syscalls (a connection each, connect, one send, reads to
# the close), REPS times. Its median wall time is what the kernel and the servers take
# on this machine; salvo's wall time above it is salvo's own.
# Loopback only; every command is bounded (LIMIT s, default 60); the farm is stopped by
# its PID at exit. Not a test: it exits 1 only when a record is not ok or the floor client
# missed a request.
set -u
cd "$(dirname "$0")/.." || exit 2
export SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/farm.sh
. bench/measure.sh
URLS=${URLS:-10000} SITES=${SITES:-100} DELAY=${DELAY:-1000} C=${C:-10000} REPS=${REPS:-3}
LIMIT=${LIMIT:-60}
for tool in python3 /usr/bin/time nginx jq; do
    command -v "$tool" >/dev/null || { echo "scale10k: needs $tool (make deps)" >&2; exit 2; }
done
[ -x "$SALVO" ] || { echo "scale10k: no $SALVO: run make first" >&2; exit 2; }
FLOOR_CLIENT=$SALVO_BUILD/bench/floor_client
[ -x "$FLOOR_CLIENT" ] || { echo "scale10k: no $FLOOR_CLIENT: run make bench" >&2; exit 2; }
# salvo raises its own descriptor limit; nginx gets NGINX_NOFILE from farm_start.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
FAILED=0

farm_start "$SITES" || exit 1
farm_pins "$SITES" "$T_DIR/pins.txt"
farm_pin_args "$T_DIR/pins.txt"
farm_urls "$URLS" "$SITES" "/delay/$DELAY" >"$T_DIR/urls.txt"
farm_urls 1 1 /delay/0 >"$T_DIR/one.txt"
# The floor client's targets, "ADDR PORT HOST PATH": the same URLs, addresses from the pins.
awk -F'[:/]' 'NR == FNR { addr[$1 ":" $2] = $3; next }
    { host = $4; port = $5; path = substr($0, index($0, host ":" port) + length(host ":" port))
      print addr[host ":" port], port, host, path }' "$T_DIR/pins.txt" "$T_DIR/urls.txt" \
    >"$T_DIR/floor.txt"

# phases FILE: the run's phase figures, from its records.
phases() {
    jq -s -r --argjson d "$DELAY" '
        def q(f): sort | .[(length - 1) * f | floor] | floor;
        def row(name; xs): "  \(name)  min \(xs | q(0))  p50 \(xs | q(0.5))  max \(xs | q(1))";
        row("slot   "; map(.start_ms)),
        row("connect"; map(.connect_ms)),
        row("sent   "; map(.start_ms + .total_ms - .ttfb_ms - .transfer_ms)),
        row("lag    "; map(.ttfb_ms - $d)),
        row("done   "; map(.start_ms + .total_ms))' "$1"
}

echo "scale10k: $URLS URLs of /delay/$DELAY over $SITES sites, salvo -c $C, $REPS runs" \
    "($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
: >"$T_DIR/idle.runs"
: >"$T_DIR/big.runs"
for rep in $(seq 1 "$REPS"); do
    measure idle "$SALVO" -c 1 -s "${PINS[@]}" -i "$T_DIR/one.txt"
    echo "$WALL $CPU $RSS 1" >>"$T_DIR/idle.runs"
    measure "big$rep" "$SALVO" -c "$C" -s "${PINS[@]}" -i "$T_DIR/urls.txt"
    ok=$(grep -c '"ok":true' "$T_DIR/big$rep.out")
    echo "$WALL $CPU $RSS $ok $rep" >>"$T_DIR/big.runs"
    echo "  run $rep: wall $WALL s, CPU $CPU ms, peak RSS $RSS KB, $ok of $URLS ok"
    [ "$ok" = "$URLS" ] || { FAILED=1; head -c 300 "$T_DIR/big$rep.err"; }
done
idle=$(med idle 3)
wall=$(med big 1)
rss=$(med big 3)
echo "median: wall $wall s (ideal $(calc "$DELAY / 1000" %g) s, x $(div "$wall" "$(calc "$DELAY / 1000")")), CPU $(med big 2) ms," \
    "peak RSS $rss KB, idle $idle KB, $(div "$(calc "$rss - $idle")" "$C" %.2f) KB per connection"

# The floor, REPS runs: "requests N ok N wall_s S last_sent_ms MS cpu_ms MS" each.
: >"$T_DIR/floor.runs"
for rep in $(seq 1 "$REPS"); do
    measure "floor$rep" "$FLOOR_CLIENT" "$T_DIR/floor.txt" "$LIMIT"
    # Wall and CPU as measure has them, start-up and exit included, as salvo's are.
    read -r _ _ _ fok _ _ _ fsent _ _ <"$T_DIR/floor$rep.out" || true
    echo "$WALL $CPU $RSS ${fok:-0} $rep ${fsent:-nan}" >>"$T_DIR/floor.runs"
    echo "  floor run $rep: wall $WALL s, last request sent at ${fsent:-?} ms," \
        "CPU $CPU ms, ${fok:-0} of $URLS ok"
    [ "${fok:-0}" = "$URLS" ] || FAILED=1
done
floor=$(med floor 1)
echo "floor (bench/floor_client, median): wall $floor s, last request sent at" \
    "$(med floor 6) ms, CPU $(med floor 2) ms; salvo over the floor: $(calc "$wall - $floor" %.3f) s" \
    "(salvo / floor x $(div "$wall" "$floor"))"

mid=$(sort -g "$T_DIR/big.runs" | awk -v m=$(((REPS + 1) / 2)) 'NR == m { print $5 }')
echo "phases of the median run (run $mid), ms from its start:"
phases "$T_DIR/big$mid.out"

if [ "${TRACE:-0}" != 0 ]; then
    measure trace "$SALVO" -c "$C" -s "${PINS[@]}" -i "$T_DIR/urls.txt" --trace "$T_DIR/trace.jsonl"
    echo "with --trace (wall $WALL s): first and last entry into each state, ms"
    jq -r '"\(.from)>\(.to) \(.t_ms)"' "$T_DIR/trace.jsonl" | awk '
        { if (!($1 in lo)) { lo[$1] = $2; order[++n] = $1 } hi[$1] = $2; c[$1]++ }
        END { for (i = 1; i <= n; i++) printf "  %-24s %6d  first %7.1f  last %7.1f\n",
              order[i], c[order[i]], lo[order[i]], hi[order[i]] }'
fi
exit "$FAILED"
