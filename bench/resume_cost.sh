#!/usr/bin/env bash
# bench/resume_cost.sh -- what --resume costs a run that is not interrupted: the same
# keep-alive run of small answers written to -o FILE, without and with --resume.
#
#   bench/resume_cost.sh                 50,000 URLs at -c 50, REPS runs each (3)
#   BENCH_QUICK=1 bench/resume_cost.sh   5,000 URLs, one run each
#
# testd on 127.0.0.1 answers /size/100; FILE is on the disk of the build directory (not
# a tmpfs, where fdatasync would cost nothing). --resume adds: reading and rewriting FILE
# at the start (empty here), an fdatasync at most once a second and an fsync at the end.
# Reported: wall time and client CPU (user + sys, from wait4's rusage), medians, and the
# fdatasync calls of one --resume run (strace -c). Writes resume_cost.md to RES (default
# bench/results). Every command is bounded (LIMIT, 150 s); exits 1 when a run's FILE does
# not hold one ok record per URL.
set -u
cd "$(dirname "$0")/.." || exit 2
SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/measure.sh
RES=${RES:-bench/results}
if [ "${BENCH_QUICK:-0}" != 0 ]; then N=5000 REPS=1; else N=${N:-50000} REPS=${REPS:-3}; fi
start_testd resume_cost || exit 1
in="$T_DIR/in.txt"
seq 1 "$N" | sed "s|.*|http://127.0.0.1:$TESTD_PORT/size/100?i=&|" >"$in"
DISK_DIR=$(mktemp -d "$SALVO_BUILD/resume-cost.XXXXXX")
trap 't_cleanup; rm -rf "$DISK_DIR"' EXIT
bad=0
for r in $(seq 1 "$REPS"); do
    for mode in plain resume; do
        rm -f "$DISK_DIR/out.jsonl"
        extra=()
        [ "$mode" = resume ] && extra=(--resume)
        measure "$mode" "$SALVO" -s -c 50 -i "$in" -o "$DISK_DIR/out.jsonl" "${extra[@]}"
        good=$(jq_count '.ok' "$DISK_DIR/out.jsonl")
        [ "$good" = "$N" ] || { echo "bench: $mode run $r: $good of $N ok" >&2; bad=1; }
        echo "$WALL $CPU $RSS $good" >>"$T_DIR/$mode.runs"
    done
done
rm -f "$DISK_DIR/out.jsonl"
syncs=$(strace -f -c -e trace=fdatasync,fsync -o "$T_DIR/strace.txt" \
    "$SALVO" -s -c 50 -i "$in" -o "$DISK_DIR/out.jsonl" --resume >/dev/null 2>&1;
    awk '$NF == "fdatasync" || $NF == "fsync" { n += $4 } END { print n + 0 }' "$T_DIR/strace.txt")
pw=$(med plain 1) pc=$(med plain 2) rw=$(med resume 1) rc=$(med resume 2)
mkdir -p "$RES"
{
    echo "| $N URLs, -c 50, -o FILE | wall (s) | CPU (ms) |"
    echo "|---|---|---|"
    echo "| without --resume | $pw | $pc |"
    echo "| with --resume | $rw | $rc |"
    echo "| ratio | $(div "$rw" "$pw") | $(div "$rc" "$pc") |"
    echo
    echo "fdatasync + fsync calls in one --resume run (strace -c): $syncs; medians of $REPS runs."
} | tee "$RES/resume_cost.md"
exit "$bad"
