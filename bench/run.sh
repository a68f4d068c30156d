#!/usr/bin/env bash
# bench/run.sh -- `make bench`: salvo against curl, the blocking baseline (salvo --blocking)
# and the ideal, on a local farm of nginx sites (bench/farm.sh), in one run.
#
#   bench/run.sh                           the full run (about 10 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh             a tiny run of every figure (under a minute)
#   BENCH_RESULTS=DIR bench/run.sh         results to DIR instead of bench/results/
#
# Writes README.md (a Markdown table per figure, each naming its exact commands), PNG
# plots made with gnuplot, and the raw data beside them. The figures:
#   1  many slow sites: salvo at two concurrencies against curl --parallel at the same
#      ones, the ideal ceil(N/c) x delay, and the blocking baseline measured on a few
#      sites and extrapolated to all of them;
#   2  keep-alive client CPU per request (bench/keepalive.sh, run with the same BENCH_QUICK);
#   3  scale: 10,000 URLs over 1,000 sites: wall time, peak RSS, RSS per connection, curl
#      at its --parallel-max cap of 300 against salvo at -c 300, and names resolved through
#      a local dnsmasq instead of pins;
#   4  instructions per request under callgrind (repeatable on a noisy machine);
#   5  completion time per URL: the blocking staircase beside salvo's wall;
#   6  many requests to one origin (bench/same_origin.sh, with the same BENCH_QUICK): one
#      request body shared by every request, 503s on one path beside slow answers on
#      others, a hostile mix over three origins, and slow URLs of one host against curl;
#   7  saving bodies (bench/save_bodies.sh, with the same BENCH_QUICK): 200 bodies of 50 MiB
#      at -c 200 with --output-dir against the same run dropping them (peak RSS) and
#      against curl -o (client CPU per MiB saved). It writes 9.8 GiB a run beside the build
#      directory (one run's files at a time), less when the disk has no room for that.
# No tool resolves a name through the system resolver: every client gets the farm's
# name-to-address map as --resolve pins, and the DNS row uses a dnsmasq on 127.0.0.1 that
# knows only the farm. Every request goes to 127.0.0.0/8. Every command is bounded by
# `timeout`; every process started here is stopped by its PID at exit. Not a test, but it
# exits 1 when a correctness check fails (a record not ok, a curl answer not 200).
set -u
res=${BENCH_RESULTS:-$(dirname "$0")/results}
mkdir -p "$res" || exit 2
RES=$(cd "$res" && pwd)
cd "$(dirname "$0")/.." || exit 2
export SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/farm.sh
. bench/measure.sh
T_START=$(date +%s)
FAILED=0

if [ "${BENCH_QUICK:-0}" != 0 ]; then
    MODE=quick
    F1_SITES=40 F1_DELAY=200 F1_CS="10 40" F1_REPS=1 F1_BASE=5
    F3_URLS=1000 F3_SITES=100 F3_DELAY=100 F3_CS="100 500" F3_CMP=50
    F4_N=200 F5_SITES=10
else
    MODE=full
    F1_SITES=200 F1_DELAY=1000 F1_CS="30 200" F1_REPS=3 F1_BASE=20
    F3_URLS=10000 F3_SITES=1000 F3_DELAY=500 F3_CS="1000 5000" F3_CMP=300
    F4_N=2000 F5_SITES=40
fi
F4_C=50
LIMIT=${BENCH_CMD_LIMIT:-150} # seconds, for any one measured command

for tool in python3 /usr/bin/time nginx curl jq gnuplot timeout; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool (make deps)" >&2; exit 2; }
done
[ -x "$SALVO" ] || { echo "bench: no $SALVO: run make first" >&2; exit 2; }
# salvo raises its own descriptor limit; curl and the baseline inherit this one.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- checking -----------------------------------------------------------------------

# fail WHAT: notes a failed correctness check.
fail() {
    echo "bench: CHECK FAILED: $*" >&2
    FAILED=1
}

# keep NAME OK EXPECTED: appends "wall cpu rss ok" to NAME.runs; checks OK == EXPECTED
# and that no signal ended the command.
keep() {
    echo "$WALL $CPU $RSS $2" >>"$T_DIR/$1.runs"
    [ "$RC" -lt 128 ] || fail "$1: ended by signal $((RC - 128))"
    [ "$2" = "$3" ] || fail "$1: $2 of $3 ok ($(head -c 300 "$T_DIR/$1.err"))"
}

# run_salvo NAME INPUT ARGS...: salvo ARGS -i INPUT, records kept in NAME.out.
run_salvo() {
    local name=$1 in=$2
    shift 2
    measure "$name" "$SALVO" "$@" -i "$in"
    keep "$name" "$(grep -c '"ok":true' "$T_DIR/$name.out")" "$(wc -l <"$in")"
}

# run_curl NAME CFG PAR ARGS...: curl --parallel over the url/output pairs of CFG, -w
# printing each answer's status and time.
run_curl() {
    local name=$1 cfg=$2 par=$3
    shift 3
    measure "$name" curl --no-progress-meter --parallel --parallel-immediate \
        --parallel-max "$par" "$@" -K "$cfg" -w '%{http_code} %{time_total}\n'
    keep "$name" "$(grep -c '^200 ' "$T_DIR/$name.out")" "$(grep -c '^url' "$cfg")"
}

# curl_cfg URLS CFG: curl's config file for a URL list (each answer to /dev/null).
curl_cfg() { awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' "$1" >"$2"; }

# pins SITES: PINS for sites 1..SITES, also in $T_DIR/pinsSITES.txt.
pins() {
    farm_pins "$1" "$T_DIR/pins$1.txt"
    farm_pin_args "$T_DIR/pins$1.txt"
}

# ---- figure 1: many slow sites --------------------------------------------------------

fig1() {
    local n=$F1_SITES d=$F1_DELAY c rep top=${F1_CS##* }
    pins "$n"
    farm_urls "$n" "$n" "/delay/$d" >"$T_DIR/f1.txt"
    farm_urls "$n" "$n" "/delay/$d" https >"$T_DIR/f1s.txt"
    head -"$F1_BASE" "$T_DIR/f1.txt" >"$T_DIR/f1b.txt"
    curl_cfg "$T_DIR/f1.txt" "$T_DIR/f1.cfg"
    curl_cfg "$T_DIR/f1s.txt" "$T_DIR/f1s.cfg"
    for rep in $(seq 1 "$F1_REPS"); do
        echo "bench: figure 1, repetition $rep of $F1_REPS" >&2
        for c in $F1_CS; do
            run_salvo "f1.salvo$c" "$T_DIR/f1.txt" -c "$c" "${PINS[@]}"
            run_curl "f1.curl$c" "$T_DIR/f1.cfg" "$c" "${PINS[@]}"
        done
        run_salvo f1.salvos "$T_DIR/f1s.txt" -c "$top" --cacert "$FARM_CA" "${PINS[@]}"
        run_curl f1.curls "$T_DIR/f1s.cfg" "$top" --cacert "$FARM_CA" "${PINS[@]}"
        run_salvo f1.base "$T_DIR/f1b.txt" --blocking "${PINS[@]}"
    done
}

# f1row CLIENT LABEL COMMAND NAME URLS IDEAL: one row of figure 1's table, and one bar
# (LABEL) of its plot.
f1row() {
    local w
    w=$(med "$4" 1)
    echo "| $1 | \`$3\` | $5 | $(minok "$4") | $w | $6 | $(div "$w" "$6") | $(med "$4" 2) |" \
        "$(div "$(med "$4" 3)" 1024 %.1f) |"
    echo "\"$2\" $w $6" >>"$T_DIR/f1.dat"
}

fig1_md() {
    local n=$F1_SITES d=$F1_DELAY s c ideal top=${F1_CS##* } base ext lo=${F1_CS%% *}
    s=$(calc "$d / 1000" %g)
    base=$(med f1.base 1)
    ext=$(calc "$base * $n / $F1_BASE" %.1f)
    echo "## 1. $n sites, each answering after $s s"
    echo
    echo "Every URL is a different site (\`http://siteK.farm.test:PORT/delay/$d\`, K = 1..$n," \
        "each site on its own address 127.1.0.K); https rows use \`https://siteK...\` with" \
        "the farm's wildcard certificate. Wall time is the median of $F1_REPS" \
        "repetition(s), the clients taking turns in each; ideal = ceil(N / c) x $s s. The" \
        "blocking baseline (\`salvo --blocking\`: getaddrinfo, connect, SSL_connect on" \
        "blocking sockets, one URL at a time) is measured on the first $F1_BASE sites and" \
        "extrapolated to $n: $n / $F1_BASE x measured. \`\$PINS\` = \`--resolve" \
        "siteK.farm.test:PORT:127.1.0.K\` for K = 1..$n and both ports, for every client."
    echo
    echo "| client | command | URLs | ok | wall s | ideal s | wall / ideal | CPU ms | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    : >"$T_DIR/f1.dat"
    for c in $F1_CS; do
        ideal=$(calc "int(($n + $c - 1) / $c) * $s" %g)
        f1row salvo "salvo -c $c" "salvo -c $c \$PINS -i urls.txt" "f1.salvo$c" "$n" "$ideal"
        f1row curl "curl -c $c" "curl --parallel --parallel-immediate --parallel-max $c \$PINS -K urls.cfg -w '%{http_code} %{time_total}\\n'" \
            "f1.curl$c" "$n" "$ideal"
    done
    ideal=$(calc "int(($n + $top - 1) / $top) * $s" %g)
    f1row salvo "salvo https -c $top" "salvo -c $top --cacert ca.pem \$PINS -i https-urls.txt" f1.salvos "$n" "$ideal"
    f1row curl "curl https -c $top" "curl --parallel --parallel-immediate --parallel-max $top --cacert ca.pem \$PINS -K https-urls.cfg -w '...'" \
        f1.curls "$n" "$ideal"
    f1row baseline "baseline, $F1_BASE sites" "salvo --blocking \$PINS -i first-$F1_BASE-urls.txt" f1.base "$F1_BASE" \
        "$(calc "$F1_BASE * $s" %g)"
    echo "| baseline, extrapolated | $n / $F1_BASE x the row above | $n | | **$ext** |" \
        "$(calc "$n * $s" %g) | | | |"
    echo "\"baseline, $n sites (extrapolated)\" $ext $(calc "$n * $s" %g)" >>"$T_DIR/f1.dat"
    echo
    echo "urls.cfg / https-urls.cfg: \`url = \"URL\"\` and \`output = \"/dev/null\"\` per URL."
    echo
    F1_R_LO=$(div "$(med "f1.salvo$lo" 1)" "$(calc "int(($n + $lo - 1) / $lo) * $s" %g)" %.3f)
    F1_R_HI=$(div "$(med "f1.salvo$top" 1)" "$(calc "int(($n + $top - 1) / $top) * $s" %g)" %.3f)
    F1_CURL_LO=$(div "$(med "f1.curl$lo" 1)" "$(med "f1.salvo$lo" 1)")
    F1_CURL_HI=$(div "$(med "f1.curl$top" 1)" "$(med "f1.salvo$top" 1)")
    F1_CURL_S=$(div "$(med f1.curls 1)" "$(med f1.salvos 1)")
    F1_BASE_LO=$(div "$ext" "$(med "f1.salvo$lo" 1)" %.1f)
    F1_BASE_HI=$(div "$ext" "$(med "f1.salvo$top" 1)" %.1f)
    echo "Ratios: salvo / ideal **$F1_R_LO** at -c $lo, **$F1_R_HI** at -c $top;" \
        "curl / salvo **$F1_CURL_LO** at -c $lo, **$F1_CURL_HI** at -c $top, **$F1_CURL_S**" \
        "over https at -c $top; baseline (extrapolated) / salvo **$F1_BASE_LO** at -c $lo," \
        "**$F1_BASE_HI** at -c $top."
    echo
    echo "![figure 1](fig1.png)"
    echo
}

plot1() {
    gnuplot <<GP
set terminal pngcairo size 900,500 font ",10"
set output "$RES/fig1.png"
set title "$F1_SITES sites x $(calc "$F1_DELAY / 1000" %g) s: wall time (log scale; lower is better)"
set style fill solid 0.8 border -1
set boxwidth 0.6
set logscale y
set ylabel "wall s"
set xtics rotate by -30 left font ",8"
set grid ytics
set key top left
set bmargin 9
plot "$T_DIR/f1.dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa" title "measured", \
     "" using 0:3 with points pt 7 ps 1.2 lc rgb "#cc3311" title "ideal"
GP
}

# ---- figure 2: keep-alive -------------------------------------------------------------

fig2() {
    if [ -f bench/keepalive.sh ]; then
        echo "bench: figure 2 (bench/keepalive.sh)" >&2
        RES=$RES timeout -k 5 400 bash bench/keepalive.sh >"$T_DIR/keepalive.out" \
            2>"$T_DIR/keepalive.err" || fail "bench/keepalive.sh: $(tail -3 "$T_DIR/keepalive.err")"
        {
            echo "## 2. Keep-alive throughput (bench/keepalive.sh)"
            echo
            sed 's/^## /### /' "$RES/keepalive.md" 2>/dev/null || echo "(no keepalive.md)"
            echo
        } >"$T_DIR/fig2.md"
    else
        fig2_own >"$T_DIR/fig2.md"
    fi
}

# fig2_own: without bench/keepalive.sh, salvo and wrk on one farm site's /1k.
fig2_own() {
    local n=$((F4_N * 10)) url reqs
    url="http://$(farm_addr 1):$FARM_HTTP/1k"
    for _ in $(seq 1 "$n"); do echo "$url"; done >"$T_DIR/f2.txt"
    run_salvo f2.salvo "$T_DIR/f2.txt" -c 100 --per-host 100
    measure f2.wrk wrk -t1 -c100 -d2s "$url"
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T_DIR/f2.wrk.out")
    echo "## 2. Keep-alive: client CPU per request"
    echo
    echo "| client | command | requests | wall s | CPU ms | CPU µs / request |"
    echo "|---|---|---|---|---|---|"
    echo "| salvo | \`salvo -c 100 --per-host 100 -i urls.txt\` | $n |" \
        "$(med f2.salvo 1) | $(med f2.salvo 2) | $(calc "$(med f2.salvo 2) * 1000 / $n" %.1f) |"
    echo "| wrk | \`wrk -t1 -c100 -d2s $url\` | ${reqs:-0} | $WALL | $CPU |" \
        "$(div "$(calc "$CPU * 1000")" "${reqs:-0}" %.1f) |"
    echo
}

# ---- figure 3: scale ------------------------------------------------------------------

fig3() {
    local c first=${F3_CS%% *}
    echo "bench: figure 3" >&2
    pins "$F3_SITES"
    farm_urls "$F3_URLS" "$F3_SITES" "/delay/$F3_DELAY" >"$T_DIR/f3.txt"
    head -1 "$T_DIR/f3.txt" >"$T_DIR/f3one.txt"
    curl_cfg "$T_DIR/f3.txt" "$T_DIR/f3.cfg"
    curl_cfg "$T_DIR/f3one.txt" "$T_DIR/f3one.cfg"
    farm_dnsmasq "$T_DIR/pins$F3_SITES.txt" || fail "dnsmasq did not start"
    run_salvo f3.salvo1 "$T_DIR/f3one.txt" -c 1 "${PINS[@]}"
    run_curl f3.curl1 "$T_DIR/f3one.cfg" 1 "${PINS[@]}"
    for c in $F3_CS; do run_salvo "f3.salvo$c" "$T_DIR/f3.txt" -c "$c" "${PINS[@]}"; done
    run_salvo f3.dns "$T_DIR/f3.txt" -c "$first" --dns-servers "127.0.0.1:$DNS_PORT"
    run_salvo "f3.salvo$F3_CMP" "$T_DIR/f3.txt" -c "$F3_CMP" "${PINS[@]}"
    run_curl "f3.curl$F3_CMP" "$T_DIR/f3.cfg" "$F3_CMP" "${PINS[@]}"
}

# f3row CLIENT COMMAND NAME C BASE_NAME: one row of figure 3's table.
f3row() {
    local w ideal per rss
    w=$(med "$3" 1)
    rss=$(med "$3" 3)
    ideal=$(calc "int(($F3_URLS + $4 - 1) / $4) * $F3_DELAY / 1000" %g)
    [ "$4" = 1 ] && ideal=$(calc "$F3_DELAY / 1000" %g)
    per=$(div "$(calc "$rss - $(med "$5" 3)")" "$4" %.1f)
    [ "$3" = "$5" ] && per=""
    echo "| $1 | \`$2\` | $4 | $(minok "$3") | $w | $ideal | $(div "$w" "$ideal") |" \
        "$(med "$3" 2) | $(div "$rss" 1024 %.1f) | $per |"
    [ -n "$per" ] && echo "\"$1 -c $4\" $w $ideal $per" >>"$T_DIR/f3.dat"
}

fig3_md() {
    local c s first=${F3_CS%% *}
    s=$(calc "$F3_DELAY / 1000" %g)
    echo "## 3. Scale: $F3_URLS URLs over $F3_SITES sites, each answering after $s s"
    echo
    echo "URL i = \`http://siteK.farm.test:PORT/delay/$F3_DELAY\` with K = i mod $F3_SITES + 1" \
        "(so $((F3_URLS / F3_SITES)) URLs per site, spread). One run per row. Peak RSS from" \
        "\`/usr/bin/time -f %M\`; RSS per connection = (peak RSS - peak RSS of the same client" \
        "on 1 URL) / concurrency. curl's --parallel-max cannot go above 300, so curl is" \
        "compared with salvo at -c $F3_CMP. The dnsmasq row resolves all $F3_SITES names" \
        "through a dnsmasq on 127.0.0.1 that answers them from a hosts file (no pins, no" \
        "upstream). Ideal = ceil(URLs / c) x $s s. \`\$PINS\` as in figure 1, for" \
        "$F3_SITES sites."
    echo
    echo "| client | command | concurrency | ok | wall s | ideal s | wall / ideal | CPU ms |" \
        "peak RSS MB | RSS per connection KB |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    : >"$T_DIR/f3.dat"
    f3row salvo "salvo -c 1 \$PINS -i one-url.txt" f3.salvo1 1 f3.salvo1
    f3row curl "curl --parallel --parallel-max 1 \$PINS -K one-url.cfg" f3.curl1 1 f3.curl1
    for c in $F3_CS; do
        f3row salvo "salvo -c $c \$PINS -i urls.txt" "f3.salvo$c" "$c" f3.salvo1
    done
    f3row "salvo, dnsmasq" "salvo -c $first --dns-servers 127.0.0.1:DNSPORT -i urls.txt" \
        f3.dns "$first" f3.salvo1
    f3row salvo "salvo -c $F3_CMP \$PINS -i urls.txt" "f3.salvo$F3_CMP" "$F3_CMP" f3.salvo1
    f3row curl "curl --parallel --parallel-immediate --parallel-max $F3_CMP \$PINS -K urls.cfg -w '...'" \
        "f3.curl$F3_CMP" "$F3_CMP" f3.curl1
    echo
    F3_CURL=$(div "$(med "f3.curl$F3_CMP" 1)" "$(med "f3.salvo$F3_CMP" 1)")
    F3_SPC=$(div "$(calc "$(med "f3.salvo$F3_CMP" 3) - $(med f3.salvo1 3)")" "$F3_CMP" %.1f)
    F3_CPC=$(div "$(calc "$(med "f3.curl$F3_CMP" 3) - $(med f3.curl1 3)")" "$F3_CMP" %.1f)
    F3_MEM=$(div "$F3_CPC" "$F3_SPC")
    echo "Ratios at concurrency $F3_CMP: curl / salvo wall **$F3_CURL**; curl / salvo RSS" \
        "per connection **$F3_MEM** ($F3_CPC KB / $F3_SPC KB)."
    echo
    echo "![figure 3](fig3.png)"
    echo
}

plot3() {
    gnuplot <<GP
set terminal pngcairo size 1000,450 font ",10"
set output "$RES/fig3.png"
set multiplot layout 1,2 title "$F3_URLS URLs over $F3_SITES sites x $(calc "$F3_DELAY / 1000" %g) s"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30 left font ",8"
set bmargin 6
set yrange [0:*]
set key top left
set title "wall time (lower is better)"
set ylabel "wall s"
plot "$T_DIR/f3.dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa" title "measured", \
     "" using 0:3 with points pt 7 ps 1.2 lc rgb "#cc3311" title "ideal"
set title "RSS per connection (lower is better)"
set ylabel "KB"
plot "$T_DIR/f3.dat" using 0:4:xtic(1) with boxes lc rgb "#228833" notitle
unset multiplot
GP
}

# ---- figure 4: instructions per request -----------------------------------------------

# cg NAME URLS ARGS...: salvo under callgrind; sets IR (instructions executed) and checks
# every record is ok.
cg() {
    local name=$1 in=$2
    shift 2
    timeout -k 5 "$LIMIT" valgrind --tool=callgrind --callgrind-out-file="$T_DIR/$name.cg" \
        "$SALVO" "$@" -i "$in" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
    IR=$(awk '/^(summary|totals):/ { print $2; exit }' "$T_DIR/$name.cg" 2>/dev/null)
    IR=${IR:-0}
    local ok
    ok=$(grep -c '"ok":true' "$T_DIR/$name.out")
    [ "$ok" = "$(wc -l <"$in")" ] || fail "$name under callgrind: $ok ok"
}

fig4() {
    local n=$F4_N one one_s
    echo "## 4. Instructions per request (callgrind)"
    echo
    if ! command -v valgrind >/dev/null; then
        echo "(skipped: valgrind is not installed)"; echo; return
    fi
    if ldd "$SALVO" 2>/dev/null | grep -q libasan; then
        echo "(skipped: $SALVO is a sanitizer build, which valgrind cannot run)"; echo; return
    fi
    echo "bench: figure 4" >&2
    pins 1
    farm_urls "$n" 1 /1k >"$T_DIR/f4.txt"
    farm_urls "$n" 1 /1k https >"$T_DIR/f4s.txt"
    head -1 "$T_DIR/f4.txt" >"$T_DIR/f4one.txt"
    head -1 "$T_DIR/f4s.txt" >"$T_DIR/f4sone.txt"
    local args=(-c "$F4_C" --per-host "$F4_C" "${PINS[@]}")
    echo "$n URLs of one origin (\`http://site1.farm.test:PORT/1k\`, 1,024-byte answers), keep-alive," \
        "$F4_C requests in flight on $F4_C connections (\`--per-host $F4_C\`), records written" \
        "to a file. Ir = instructions executed, \`valgrind --tool=callgrind\`, start-up" \
        "included; per request beyond start-up = (Ir - Ir of the 1-URL run) / ($n - 1). The" \
        "http run is made twice to show the spread. The https runs include the TLS" \
        "handshakes of their $F4_C connections and, in the start-up, loading the CA bundles." \
        "Top functions: callgrind.txt."
    echo
    echo "| client | command | URLs | Ir total | **Ir / request** | Ir / request beyond start-up |"
    echo "|---|---|---|---|---|---|"
    cg f4.one "$T_DIR/f4one.txt" "${args[@]}"
    one=$IR
    echo "| salvo | \`salvo -c $F4_C --per-host $F4_C \$PIN -i one-url.txt\` | 1 | $IR | $IR | |"
    local rep
    for rep in 1 2; do
        cg "f4.http$rep" "$T_DIR/f4.txt" "${args[@]}"
        echo "| salvo | \`salvo -c $F4_C --per-host $F4_C \$PIN -i urls.txt\` (run $rep) | $n | $IR |" \
            "**$(div "$IR" "$n" %.0f)** | $(div "$(calc "$IR - $one" %.0f)" $((n - 1)) %.0f) |"
    done
    cg f4.sone "$T_DIR/f4sone.txt" "${args[@]}" --cacert "$FARM_CA"
    one_s=$IR
    echo "| salvo | \`salvo ... --cacert ca.pem -i one-https-url.txt\` | 1 | $IR | $IR | |"
    cg f4.https "$T_DIR/f4s.txt" "${args[@]}" --cacert "$FARM_CA"
    echo "| salvo | \`salvo ... --cacert ca.pem -i https-urls.txt\` | $n | $IR |" \
        "**$(div "$IR" "$n" %.0f)** | $(div "$(calc "$IR - $one_s" %.0f)" $((n - 1)) %.0f) |"
    echo
    {
        echo "== salvo, $n http URLs (run 1): by self cost"
        callgrind_annotate "$T_DIR/f4.http1.cg" 2>/dev/null | grep -A30 'file:function'
        echo
        echo "== salvo, 1 https URL (start-up): by inclusive cost"
        callgrind_annotate --inclusive=yes "$T_DIR/f4.sone.cg" 2>/dev/null |
            grep -A30 'file:function'
    } >"$RES/callgrind.txt"
}

# ---- figure 5: completion time per URL ------------------------------------------------

fig5() {
    local n=$F5_SITES k
    echo "bench: figure 5" >&2
    pins "$n"
    # Delays from 100 to 250 ms, different from site to site.
    for k in $(seq 1 "$n"); do farm_url "$k" "/delay/$((100 + (k * 61) % 151))"; done \
        >"$T_DIR/f5.txt"
    run_salvo f5.base "$T_DIR/f5.txt" --blocking "${PINS[@]}"
    run_salvo f5.salvo "$T_DIR/f5.txt" -c "$n" "${PINS[@]}"
    # salvo: completion = queue_ms + total_ms, ranked; the baseline: its records come in
    # input order, one at a time, so completion is the running sum of total_ms.
    jq -r '(.queue_ms + .total_ms) / 1000' "$T_DIR/f5.salvo.out" | sort -g |
        awk '{ print NR, $1 }' >"$RES/fig5-salvo.dat"
    jq -r '.total_ms / 1000' "$T_DIR/f5.base.out" |
        awk '{ t += $1; print NR, t }' >"$RES/fig5-blocking.dat"
}

fig5_md() {
    local n=$F5_SITES sl bl
    sl=$(tail -1 "$RES/fig5-salvo.dat" | awk '{ printf "%.3f", $2 }')
    bl=$(tail -1 "$RES/fig5-blocking.dat" | awk '{ printf "%.3f", $2 }')
    echo "## 5. Completion time per URL: the blocking staircase and salvo"
    echo
    echo "$n sites, one URL each, site K answering after 100 + (61 K mod 151) ms (100 to 250" \
        "ms). x = URL rank, y = completion time since the start, from the records: salvo's" \
        "queue_ms + total_ms; the baseline's running sum of total_ms. Data: fig5-*.dat."
    echo
    echo "| client | command | URLs | ok | last completion s (records) | wall s |"
    echo "|---|---|---|---|---|---|"
    echo "| baseline | \`salvo --blocking \$PINS -i urls.txt\` | $n | $(minok f5.base) | $bl |" \
        "$(med f5.base 1) |"
    echo "| salvo | \`salvo -c $n \$PINS -i urls.txt\` | $n | $(minok f5.salvo) | $sl |" \
        "$(med f5.salvo 1) |"
    echo
    echo "Ratio: baseline / salvo wall **$(div "$(med f5.base 1)" "$(med f5.salvo 1)" %.1f)**."
    echo
    echo "![figure 5](fig5.png)"
    echo
}

plot5() {
    gnuplot <<GP
set terminal pngcairo size 800,500 font ",10"
set output "$RES/fig5.png"
set title "$F5_SITES sites answering in 100-250 ms: when each URL completes"
set xlabel "URL rank"
set ylabel "completion time since start, s"
set grid
set key top left
plot "$RES/fig5-blocking.dat" using 1:2 with steps lw 2 lc rgb "#cc3311" title "blocking baseline (salvo --blocking)", \
     "" using 1:2 with points pt 7 ps 0.6 lc rgb "#cc3311" notitle, \
     "$RES/fig5-salvo.dat" using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#4477aa" title "salvo -c $F5_SITES"
GP
}

# ---- figure 6: many requests to one origin ------------------------------------------

fig6() {
    local limit=900
    [ "$MODE" = quick ] && limit=120
    echo "bench: figure 6 (bench/same_origin.sh)" >&2
    rm -f "$RES/same_origin.md" "$RES/same_origin.targets"
    RES=$RES BENCH_CMD_LIMIT=$LIMIT timeout -k 5 "$limit" bash bench/same_origin.sh \
        >"$T_DIR/same_origin.out" 2>"$T_DIR/same_origin.err" ||
        fail "bench/same_origin.sh: $(tail -3 "$T_DIR/same_origin.err")"
    {
        echo "## 6. Many requests to one origin (bench/same_origin.sh)"
        echo
        cat "$RES/same_origin.md" 2>/dev/null || echo "(no same_origin.md)"
    } >"$T_DIR/fig6.md"
}

# ---- figure 7: saving bodies ----------------------------------------------------------

fig7() {
    local limit=1500
    [ "$MODE" = quick ] && limit=60
    echo "bench: figure 7 (bench/save_bodies.sh)" >&2
    rm -f "$RES/save_bodies.md" "$RES/save_bodies.targets"
    RES=$RES timeout -k 5 "$limit" bash bench/save_bodies.sh >"$T_DIR/save_bodies.out" \
        2>"$T_DIR/save_bodies.err" || fail "bench/save_bodies.sh: $(tail -3 "$T_DIR/save_bodies.err")"
    {
        echo "## 7. Saving bodies to disk (bench/save_bodies.sh)"
        echo
        cat "$RES/save_bodies.md" 2>/dev/null || echo "(no save_bodies.md)"
    } >"$T_DIR/fig7.md"
}

# ---- targets --------------------------------------------------------------------------

# verdict COND: "yes" or "**no**".
verdict() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo yes; else echo "**no**"; fi; }

targets_md() {
    local lo=${F1_CS%% *} hi=${F1_CS##* }
    echo "## Targets"
    echo
    [ "$MODE" = quick ] && echo "(A quick run: small sizes, so these are indicative only.)" && echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    echo "| $F1_SITES sites: salvo within 2% of ideal at -c $lo and -c $hi | $F1_R_LO, $F1_R_HI |" \
        "$(verdict "$F1_R_LO <= 1.02 && $F1_R_HI <= 1.02") |"
    echo "| >= 100x faster than the baseline at -c $hi | $F1_BASE_HI x |" \
        "$(verdict "$F1_BASE_HI >= 100") |"
    echo "| never slower than curl (curl / salvo wall >= 1) | -c $lo: $F1_CURL_LO, -c $hi:" \
        "$F1_CURL_HI, https: $F1_CURL_S, scale -c $F3_CMP: $F3_CURL |" \
        "$(verdict "$F1_CURL_LO >= 1 && $F1_CURL_HI >= 1 && $F1_CURL_S >= 1 && $F3_CURL >= 1") |"
    echo "| less memory per connection than curl (at -c $F3_CMP) | salvo $F3_SPC KB, curl" \
        "$F3_CPC KB | $(verdict "$F3_SPC < $F3_CPC") |"
    cat "$RES/same_origin.targets" 2>/dev/null
    cat "$RES/save_bodies.targets" 2>/dev/null
    echo
}

# ---- the run --------------------------------------------------------------------------

SITES=$F1_SITES
[ "$F3_SITES" -gt "$SITES" ] && SITES=$F3_SITES
echo "bench: $MODE run, farm of $SITES sites, results in $RES" >&2
farm_start "$SITES" || exit 1
fig1
fig1_md >"$T_DIR/fig1.md"
fig2
fig3
fig3_md >"$T_DIR/fig3.md"
fig4 >"$T_DIR/fig4.md"
fig5
fig5_md >"$T_DIR/fig5.md"
fig6
fig7
plot1 && plot3 && plot5 || fail "gnuplot"
for f in "$T_DIR"/f1.dat "$T_DIR"/f3.dat; do cp "$f" "$RES/fig$(basename "$f" | cut -c2).dat"; done
reports=$(cat "$T_DIR"/sanitizer.* 2>/dev/null)
[ -z "$reports" ] || fail "sanitizer reports: $(head -c 2000 <<<"$reports")"
{
    echo "# salvo benchmarks"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $MODE run (\`${BENCH_QUICK:+BENCH_QUICK=1 }bench/run.sh\`)," \
        "$(($(date +%s) - T_START)) s. $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' \
            /proc/cpuinfo | head -1)), salvo $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "($SALVO), $(nginx -v 2>&1 | sed 's|.*/|nginx |'), curl $(curl --version | head -1 |
            cut -d' ' -f2). The farm: one nginx, 2 workers, $SITES sites on addresses" \
        "127.1.A.B (bench/farm.sh), everything on this machine. Wall times from the clock" \
        "around each command's fork and exit, CPU (user + sys) from its rusage (wait4), peak RSS" \
        "from /usr/bin/time."
    echo
    targets_md
    cat "$T_DIR"/fig1.md "$T_DIR"/fig2.md "$T_DIR"/fig3.md "$T_DIR"/fig4.md "$T_DIR"/fig5.md \
        "$T_DIR"/fig6.md "$T_DIR"/fig7.md
    [ "$FAILED" = 0 ] || printf '**Some correctness check FAILED: see the stderr of bench/run.sh.**\n'
} >"$RES/README.md"
farm_stop
echo "bench: done in $(($(date +%s) - T_START)) s: $RES/README.md" >&2
exit "$FAILED"
