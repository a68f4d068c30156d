#!/usr/bin/env bash
# The benchmark scripts do not rot: `BENCH_QUICK=1 bench/run.sh` (the farm of
# bench/farm.sh, every figure at a tiny size, bench/keepalive.sh included) runs to the end
# with every correctness check passing, and writes README.md with its tables, numbers in
# every salvo row, and the PNG plots. About 75 s.
. "$(dirname "$0")/../lib.sh"
R="$T_DIR/results"
start=$(now)
BENCH_QUICK=1 BENCH_RESULTS="$R" timeout -k 5 150 bash "$SALVO_ROOT/bench/run.sh" \
    >"$T_DIR/run.out" 2>"$T_DIR/run.err"
rc=$?
if [ "$rc" = 0 ]; then ok "BENCH_QUICK=1 bench/run.sh exits 0"; else
    not_ok "BENCH_QUICK=1 bench/run.sh exits 0" "exit status $rc" "$(tail -20 "$T_DIR/run.err")"
fi
echo "# bench/run.sh took $(since "$start") s"
md="$R/README.md"
check "README.md is written" test -s "$md"
check_eq "it has the five figures and the targets" \
    "## Targets|## 1.|## 2.|## 3.|## 4.|## 5." \
    "$(grep -oE '^## (Targets|[1-5]\.)' "$md" | tr '\n' '|' | sed 's/|$//')"
check "it has Markdown tables" grep -q '^|---|---|' "$md"
check "no correctness check failed" bash -c "! grep -q FAILED '$md'"

# Every salvo row of figures 1, 3 and 5 (client | command | URLs or concurrency | ok | wall
# s | ...) has a whole number of ok records and a positive number of seconds; figure 4's
# (client | command | URLs | Ir total | Ir / request | ...) has instruction counts (the
# figure is skipped under a sanitizer build, which valgrind cannot run).
check "there are salvo rows" test "$(grep -cE '^\| salvo' "$md")" -ge 9
bad=$(awk -F'|' '
    /^## / { fig = $0 }
    !/^\| salvo/ { next }
    fig ~ /^## 4/ { if ($5 !~ /^ *[0-9]+ *$/ || $6 !~ /^ *(\*\*)?[0-9]+(\*\*)? *$/) print; next }
    $5 !~ /^ *[0-9]+ *$/ || $6 !~ /^ *[0-9]+(\.[0-9]+)? *$/ || $6 + 0 <= 0 { print }' "$md")
check_eq "every salvo row has numbers" "" "$bad"
check "every salvo row of figure 1 got all its URLs" awk -F'|' '
    /^## 1\./ { f = 1 } /^## 2\./ { f = 0 }
    f && /^\| salvo/ { n++; if ($4 + 0 != $5 + 0 || $4 + 0 == 0) exit 1 } END { exit !(n >= 3) }' "$md"
check "the keep-alive table of bench/keepalive.sh is included" grep -q 'salvo -c 100 --per-host' "$md"

for png in fig1 fig3 fig5; do
    check "$png.png is a PNG" bash -c "head -c 8 '$R/$png.png' | od -An -c | grep -q 'P   N   G'"
done
check "figure 5's data has a point per URL for both clients" \
    test "$(wc -l <"$R/fig5-salvo.dat") $(wc -l <"$R/fig5-blocking.dat")" = "10 10"
check_le "the quick run ends well within its bound (a hang guard, not a timing)" "$(since "$start")" 150
finish
