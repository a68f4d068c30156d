#!/usr/bin/env bash
# bench/run.sh -- `make bench`: salvo against curl, the blocking baseline (salvo --blocking)
# and the ideal, on a local farm of nginx sites (bench/farm.sh), in one run.
#
#   bench/run.sh                           the full run (about 10 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh             a tiny run of every figure (under a minute)
#   BENCH_RESULTS=DIR bench/run.sh         results to DIR instead of bench/results/
#   BENCH_FIGURES="1 8" bench/run.sh       only these figures (default: all, 1 to 9)
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
#      directory (one run's files at a time), less when the disk has no room for that;
#   8  the article's programs (bench/article/): 200 URLs of one slow endpoint on one host,
#      the blocking requests loop, the broken asyncio version and the aiohttp fix, run by
#      Debian's python3, against salvo -c 30, the blocking baseline and curl, over http
#      and https (the slow ones measured on 20 URLs and extrapolated);
#   9  TLS: client CPU per new connection, full and resumed handshakes, against openssl
#      s_time -new and -reuse (bench/tls_handshake.sh).
# A run keeps the previous README.md as README.previous.md and ends with each row's ratio
# to it (bench/compare_previous.sh), so that a regression shows in the next run.
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
    F8_URLS=40 F8_DELAY=200 F8_BASE=5 F8_REPS=1
else
    MODE=full
    F1_SITES=200 F1_DELAY=1000 F1_CS="30 200" F1_REPS=3 F1_BASE=20
    F3_URLS=10000 F3_SITES=1000 F3_DELAY=500 F3_CS="1000 5000" F3_CMP=300
    F4_N=2000 F5_SITES=40
    F8_URLS=200 F8_DELAY=1000 F8_BASE=20 F8_REPS=3
fi
F8_C=30
FIGURES=$(echo "${BENCH_FIGURES:-1 2 3 4 5 6 7 8 9}" | tr ',' ' ')
# sel N: figure N is one of the figures to run.
sel() { case " $FIGURES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
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

# ---- figure 9: TLS handshakes -----------------------------------------------------------

# fig9: client CPU per new TLS connection, full and resumed handshakes, TLS 1.3 and 1.2,
# against openssl s_time -new and -reuse (bench/tls_handshake.sh, its own nginx).
fig9() {
    local n=2000 secs=5
    [ "$MODE" = quick ] && n=100 secs=1
    echo "bench: figure 9 (bench/tls_handshake.sh)" >&2
    N=$n SECS=$secs timeout -k 5 400 bash bench/tls_handshake.sh >"$T_DIR/tls_handshake.out" \
        2>"$T_DIR/tls_handshake.err" || fail "bench/tls_handshake.sh: $(tail -3 "$T_DIR/tls_handshake.err")"
    {
        echo "## 9. TLS: client CPU per new connection (bench/tls_handshake.sh)"
        echo
        echo "Every request on a new connection (\`--no-keepalive\`): full handshakes on $n names," \
            "resumed ones on $n URLs of one name, against \`openssl s_time -new\` and \`-reuse\`" \
            "($secs s each) on the same nginx."
        echo
        sed 's/^## /### /' "$T_DIR/tls_handshake.out"
        echo
    } >"$T_DIR/fig9.md"
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

# ---- figure 8: the article's programs -------------------------------------------------

# The article's three programs (bench/article/), run by Debian's python3 with Debian's
# python3-requests and python3-aiohttp.
PY3=/usr/bin/python3
F8_SKIP=

# run_py NAME SCRIPT URLS ARGS...: bench/article/SCRIPT.py on URLS; it prints a line
# "STATUS URL" per answer.
run_py() {
    local name=$1 script=$2 in=$3
    shift 3
    measure "$name" "$PY3" "bench/article/$script.py" "$in" "$@"
    keep "$name" "$(grep -c '^200 ' "$T_DIR/$name.out")" "$(wc -l <"$in")"
}

fig8() {
    local rep sch u b ca cacert
    if ! timeout -k 5 30 "$PY3" -c 'import requests, aiohttp' 2>/dev/null; then
        F8_SKIP="$PY3 cannot import requests and aiohttp (make deps installs python3-requests and python3-aiohttp)"
        echo "bench: figure 8 skipped: $F8_SKIP" >&2
        return
    fi
    pins 1
    for sch in http https; do
        # One site, distinct URLs of the same slow endpoint: /delay/MS?n=K.
        farm_urls "$F8_URLS" 1 "/delay/$F8_DELAY" "$sch" | awk '{ print $0 "?n=" NR }' \
            >"$T_DIR/f8.$sch.txt"
        head -"$F8_BASE" "$T_DIR/f8.$sch.txt" >"$T_DIR/f8.$sch.base.txt"
        curl_cfg "$T_DIR/f8.$sch.txt" "$T_DIR/f8.$sch.cfg"
    done
    for rep in $(seq 1 "$F8_REPS"); do
        echo "bench: figure 8, repetition $rep of $F8_REPS" >&2
        for sch in http https; do
            u=$T_DIR/f8.$sch.txt b=$T_DIR/f8.$sch.base.txt ca=() cacert=()
            [ "$sch" = https ] && ca=("$FARM_CA") cacert=(--cacert "$FARM_CA")
            run_py "f8.$sch.requests" blocking_requests "$b" "${ca[@]}" "${PINS[@]}"
            run_py "f8.$sch.broken" broken_asyncio "$b" "${ca[@]}" "${PINS[@]}"
            run_py "f8.$sch.aiohttp" aiohttp_fix "$u" "${ca[@]}" "${PINS[@]}"
            run_salvo "f8.$sch.salvo" "$u" -c "$F8_C" "${cacert[@]}" "${PINS[@]}"
            run_salvo "f8.$sch.base" "$b" --blocking "${cacert[@]}" "${PINS[@]}"
            run_curl "f8.$sch.curl" "$T_DIR/f8.$sch.cfg" "$F8_C" "${cacert[@]}" "${PINS[@]}"
        done
    done
    # The records of the last https repetition, for the waterfalls.
    cp "$T_DIR/f8.https.salvo.out" "$RES/fig8-salvo-https.jsonl"
    cp "$T_DIR/f8.https.base.out" "$RES/fig8-blocking-https.jsonl"
}

# f8row PROGRAM COMMAND NAME URLS IDEAL: one row of figure 8's table.
f8row() {
    local w
    w=$(med "$3" 1)
    echo "| $1 | \`$2\` | $4 | $(minok "$3") | $w | $5 | $(div "$w" "$5") | $(med "$3" 2) |" \
        "$(div "$(med "$3" 3)" 1024 %.1f) |"
}

# f8ext NAME: NAME's median wall (measured on F8_BASE URLs) scaled to F8_URLS.
f8ext() { calc "$(med "$1" 1) * $F8_URLS / $F8_BASE" %.1f; }

# f8extrow NAME IDEAL WHAT: the row under NAME's (WHAT), extrapolated to F8_URLS.
f8extrow() {
    local e
    e=$(f8ext "$1")
    echo "| ↳ $3, extrapolated to $F8_URLS URLs | $F8_URLS / $F8_BASE x the row above |" \
        "$F8_URLS | | **$e** | $2 | $(div "$e" "$2") | | |"
}

fig8_md() {
    local n=$F8_URLS c=$F8_C s sch ca cacert pre ideal ideal_b ideal_n versions
    s=$(calc "$F8_DELAY / 1000" %g)
    ideal=$(calc "int(($n + $c - 1) / $c) * $s" %g)
    ideal_b=$(calc "$F8_BASE * $s" %g)
    ideal_n=$(calc "$n * $s" %g)
    echo "## 8. The article's programs: $n URLs of one host, each answering after $s s"
    echo
    if [ -n "$F8_SKIP" ]; then
        echo "(skipped: $F8_SKIP)"
        echo
        return
    fi
    versions=$(timeout -k 5 30 "$PY3" -c 'import sys, requests, aiohttp
print("Python %d.%d.%d, requests %s, aiohttp %s" % (sys.version_info[:3] + (requests.__version__, aiohttp.__version__)))')
    echo "The case of the article salvo began with: a script checks many sites with" \
        "\`requests.get\` one at a time and takes the sum of their times; an asyncio rewrite" \
        "that still calls \`requests.get\` inside \`async def\` looks concurrent and is not" \
        "(requests blocks the event loop); the fix, aiohttp with one \`ClientSession\`, an" \
        "\`asyncio.Semaphore($c)\` and \`asyncio.gather\`, takes about the time of the slowest" \
        "site per round of $c. The three programs are in bench/article/, run by Debian's" \
        "$PY3 ($versions). Workload: $n distinct URLs of one slow endpoint on ONE site," \
        "\`http://site1.farm.test:PORT/delay/$F8_DELAY?n=K\` (K = 1..$n, address" \
        "127.1.0.1); https rows use \`https://site1...\` with the farm's wildcard" \
        "certificate, whose CA every client is given (the programs' CAFILE argument," \
        "\`--cacert\` for salvo and curl). Concurrency $c everywhere; salvo has no per-host" \
        "cap by default, so \`-c $c\` alone puts $c requests in flight on the one host." \
        "The blocking programs (the requests loop, the broken asyncio version, \`salvo" \
        "--blocking\`) are measured on the first $F8_BASE URLs and extrapolated to $n:" \
        "$n / $F8_BASE x measured. Ideal = ceil($n / $c) x $s s = $ideal s for the" \
        "concurrent programs, $n x $s s = $ideal_n s for the blocking ones. Wall time is the" \
        "median of $F8_REPS repetition(s), the programs taking turns in each; CPU and peak" \
        "RSS include the Python interpreter's start-up. \`\$PIN\` = \`--resolve" \
        "site1.farm.test:PORT:127.1.0.1\` for both ports, for every program: the Python" \
        "programs answer names from their pins only (requests through a \`getaddrinfo\`" \
        "that knows the pins alone, aiohttp through a resolver given to its connector," \
        "bench/article/pins.py), never through the system resolver."
    echo
    echo "| program | command | URLs | ok | wall s | ideal s | wall / ideal | CPU ms | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    : >"$T_DIR/f8.dat"
    for sch in http https; do
        ca="" cacert="" pre=""
        [ "$sch" = https ] && ca=" ca.pem" cacert=" --cacert ca.pem" pre="https-"
        f8row "requests, blocking loop ($sch)" \
            "$PY3 bench/article/blocking_requests.py first-$F8_BASE-${pre}urls.txt$ca \$PIN" \
            "f8.$sch.requests" "$F8_BASE" "$ideal_b"
        f8extrow "f8.$sch.requests" "$ideal_n" "requests loop ($sch)"
        f8row "asyncio + requests, broken ($sch)" \
            "$PY3 bench/article/broken_asyncio.py first-$F8_BASE-${pre}urls.txt$ca \$PIN" \
            "f8.$sch.broken" "$F8_BASE" "$ideal_b"
        f8extrow "f8.$sch.broken" "$ideal_n" "broken asyncio ($sch)"
        f8row "aiohttp, the fix ($sch)" \
            "$PY3 bench/article/aiohttp_fix.py ${pre}urls.txt$ca \$PIN" \
            "f8.$sch.aiohttp" "$n" "$ideal"
        f8row "salvo ($sch)" "salvo -c $c$cacert \$PIN -i ${pre}urls.txt" "f8.$sch.salvo" "$n" "$ideal"
        f8row "baseline, salvo --blocking ($sch)" \
            "salvo --blocking$cacert \$PIN -i first-$F8_BASE-${pre}urls.txt" "f8.$sch.base" \
            "$F8_BASE" "$ideal_b"
        f8extrow "f8.$sch.base" "$ideal_n" "baseline ($sch)"
        f8row "curl ($sch)" "curl --parallel --parallel-immediate --parallel-max $c$cacert \$PIN -K ${pre}urls.cfg -w '%{http_code} %{time_total}\\n'" \
            "f8.$sch.curl" "$n" "$ideal"
    done
    echo
    echo "urls.cfg / https-urls.cfg: \`url = \"URL\"\` and \`output = \"/dev/null\"\` per URL." \
        "The Python programs print one line per URL, \`STATUS URL\` or \`error NAME: MESSAGE" \
        "URL\`; ok counts the lines that start with 200."
    echo
    # The plot: one cluster per program, http and https wall beside the ideal.
    {
        echo "\"requests loop (extrapolated)\" $(f8ext f8.http.requests) $(f8ext f8.https.requests) $ideal_n"
        echo "\"asyncio + requests (extrapolated)\" $(f8ext f8.http.broken) $(f8ext f8.https.broken) $ideal_n"
        echo "\"aiohttp + Semaphore($c)\" $(med f8.http.aiohttp 1) $(med f8.https.aiohttp 1) $ideal"
        echo "\"salvo -c $c\" $(med f8.http.salvo 1) $(med f8.https.salvo 1) $ideal"
        echo "\"salvo --blocking (extrapolated)\" $(f8ext f8.http.base) $(f8ext f8.https.base) $ideal_n"
        echo "\"curl --parallel-max $c\" $(med f8.http.curl 1) $(med f8.https.curl 1) $ideal"
    } >"$T_DIR/f8.dat"
    F8_R_HTTP=$(div "$(med f8.http.salvo 1)" "$ideal" %.3f)
    F8_R_HTTPS=$(div "$(med f8.https.salvo 1)" "$ideal" %.3f)
    F8_S_HTTP=$(med f8.http.salvo 1) F8_S_HTTPS=$(med f8.https.salvo 1)
    F8_A_HTTP=$(med f8.http.aiohttp 1) F8_A_HTTPS=$(med f8.https.aiohttp 1)
    echo "Ratios: salvo / ideal **$F8_R_HTTP** over http, **$F8_R_HTTPS** over https;" \
        "aiohttp / salvo wall **$(div "$F8_A_HTTP" "$F8_S_HTTP")** over http," \
        "**$(div "$F8_A_HTTPS" "$F8_S_HTTPS")** over https; the requests loop" \
        "(extrapolated) / salvo **$(div "$(f8ext f8.http.requests)" "$F8_S_HTTP" %.1f)** over" \
        "http, **$(div "$(f8ext f8.https.requests)" "$F8_S_HTTPS" %.1f)** over https; the" \
        "broken asyncio version / the requests loop **$(div "$(med f8.http.broken 1)" \
            "$(med f8.http.requests 1)")** over http (about 1: one URL at a time all the same)," \
        "**$(div "$(med f8.https.broken 1)" "$(med f8.https.requests 1)")** over https."
    echo
    echo "![figure 8](fig8.png)"
    echo
    # bench/waterfall.sh RECORDS OUT TITLE [RECORDS2 TITLE2]: one bar per request.
    if [ -x bench/waterfall.sh ]; then
        if timeout -k 5 60 bench/waterfall.sh "$RES/fig8-salvo-https.jsonl" \
            "$RES/fig8-waterfall.png" "salvo -c $c: $n https URLs of one host x $s s" \
            "$RES/fig8-blocking-https.jsonl" \
            "salvo --blocking: the first $F8_BASE of them, one at a time" \
            >"$T_DIR/waterfall.out" 2>&1; then
            echo "Waterfalls of the last https repetition (bench/waterfall.sh; one bar per" \
                "request from its record: start_ms, then the phase durations): salvo" \
                "(fig8-salvo-https.jsonl) and the blocking baseline" \
                "(fig8-blocking-https.jsonl)."
            echo
            echo "![figure 8, waterfalls](fig8-waterfall.png)"
            echo
        else
            fail "bench/waterfall.sh: $(tail -3 "$T_DIR/waterfall.out")"
        fi
    fi
}

plot8() {
    [ -z "$F8_SKIP" ] || return 0
    gnuplot <<GP
set terminal pngcairo size 1000,520 font ",10"
set output "$RES/fig8.png"
set title "The article's case: $F8_URLS URLs of one host x $(calc "$F8_DELAY / 1000" %g) s, concurrency $F8_C (log scale; lower is better)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set ylabel "wall s"
set xtics rotate by -25 left font ",9" nomirror
set grid ytics
set key top right
set bmargin 8
set offsets 0.3, 0.3, 0, 0
plot "$T_DIR/f8.dat" using 2:xtic(1) lc rgb "#4477aa" title "http", \
     "" using 3 lc rgb "#ee7733" title "https", \
     "" using 4 lc rgb "#bbbbbb" title "ideal", \
     "" using (\$0 - 0.25):2:(sprintf("%.3g", \$2)) with labels offset 0,0.7 font ",7" notitle, \
     "" using (\$0):3:(sprintf("%.3g", \$3)) with labels offset 0,0.7 font ",7" notitle
GP
}

# fig8_targets: figure 8's rows of the Targets table.
fig8_targets() {
    local s
    s=$(calc "$F8_DELAY / 1000" %g)
    if [ -n "$F8_SKIP" ]; then
        echo "| The article's case ($F8_URLS x $s s, one host, -c $F8_C) | not measured ($F8_SKIP) | **no** |"
        return
    fi
    echo "| The article's case ($F8_URLS x $s s, one host, -c $F8_C): at most 1.01 x ideal" \
        "over http and 1.02 x over https | http $F8_R_HTTP, https $F8_R_HTTPS |" \
        "$(verdict "$F8_R_HTTP <= 1.01 && $F8_R_HTTPS <= 1.02") |"
    echo "| never slower than the article's aiohttp program on any row (salvo wall <= aiohttp" \
        "wall) | http: salvo $F8_S_HTTP s, aiohttp $F8_A_HTTP s; https: salvo $F8_S_HTTPS s," \
        "aiohttp $F8_A_HTTPS s | $(verdict "$F8_S_HTTP <= $F8_A_HTTP && $F8_S_HTTPS <= $F8_A_HTTPS") |"
}

# ---- targets --------------------------------------------------------------------------

# verdict COND: "yes" or "**no**".
verdict() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo yes; else echo "**no**"; fi; }

targets_md() {
    local lo=${F1_CS%% *} hi=${F1_CS##* } vs="" cond=1
    echo "## Targets"
    echo
    [ "$MODE" = quick ] && echo "(A quick run: small sizes, so these are indicative only.)" && echo
    [ -n "${BENCH_FIGURES:-}" ] && echo "(Figures $FIGURES only: \`BENCH_FIGURES=\"$BENCH_FIGURES\"\`.)" && echo
    echo "| target | measured | met |"
    echo "|---|---|---|"
    if sel 1; then
        echo "| $F1_SITES sites: salvo within 2% of ideal at -c $lo and -c $hi | $F1_R_LO, $F1_R_HI |" \
            "$(verdict "$F1_R_LO <= 1.02 && $F1_R_HI <= 1.02") |"
        echo "| >= 100x faster than the baseline at -c $hi | $F1_BASE_HI x |" \
            "$(verdict "$F1_BASE_HI >= 100") |"
        vs="-c $lo: $F1_CURL_LO, -c $hi: $F1_CURL_HI, https: $F1_CURL_S"
        cond="$F1_CURL_LO >= 1 && $F1_CURL_HI >= 1 && $F1_CURL_S >= 1"
    fi
    if sel 3; then
        vs="${vs:+$vs, }scale -c $F3_CMP: $F3_CURL"
        cond="$cond && $F3_CURL >= 1"
    fi
    [ -n "$vs" ] && echo "| never slower than curl (curl / salvo wall >= 1) | $vs | $(verdict "$cond") |"
    sel 3 && echo "| less memory per connection than curl (at -c $F3_CMP) | salvo $F3_SPC KB, curl" \
        "$F3_CPC KB | $(verdict "$F3_SPC < $F3_CPC") |"
    sel 6 && cat "$RES/same_origin.targets" 2>/dev/null
    sel 7 && cat "$RES/save_bodies.targets" 2>/dev/null
    sel 8 && fig8_targets
    echo
}

# ---- the run --------------------------------------------------------------------------

# The farm: as many sites as the largest selected figure needs (figures 2, 4 and 8 use
# site 1 only; 6 and 7 start their own servers).
SITES=1
sel 1 && [ "$F1_SITES" -gt "$SITES" ] && SITES=$F1_SITES
sel 3 && [ "$F3_SITES" -gt "$SITES" ] && SITES=$F3_SITES
sel 5 && [ "$F5_SITES" -gt "$SITES" ] && SITES=$F5_SITES
echo "bench: $MODE run of figures $FIGURES, farm of $SITES sites, results in $RES" >&2
farm_start "$SITES" || exit 1
for f in 1 2 3 4 5 6 7 8; do : >"$T_DIR/fig$f.md"; done
if sel 1; then
    fig1
    fig1_md >"$T_DIR/fig1.md"
    plot1 || fail "gnuplot (figure 1)"
    cp "$T_DIR/f1.dat" "$RES/fig1.dat"
fi
sel 2 && fig2
if sel 3; then
    fig3
    fig3_md >"$T_DIR/fig3.md"
    plot3 || fail "gnuplot (figure 3)"
    cp "$T_DIR/f3.dat" "$RES/fig3.dat"
fi
sel 4 && fig4 >"$T_DIR/fig4.md"
if sel 5; then
    fig5
    fig5_md >"$T_DIR/fig5.md"
    plot5 || fail "gnuplot (figure 5)"
fi
sel 6 && fig6
sel 7 && fig7
if sel 8; then
    fig8
    fig8_md >"$T_DIR/fig8.md"
    plot8 || fail "gnuplot (figure 8)"
    [ -f "$T_DIR/f8.dat" ] && cp "$T_DIR/f8.dat" "$RES/fig8.dat"
fi
if sel 9; then
    fig9
fi
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
    for f in 1 2 3 4 5 6 7 8 9; do
        [ -f "$T_DIR/fig$f.md" ] && cat "$T_DIR/fig$f.md"
    done
    [ "$FAILED" = 0 ] || printf '**Some correctness check FAILED: see the stderr of bench/run.sh.**\n'
} >"$RES/README.md.new"
# The previous run's README stays beside the new one, for the comparison below.
[ -s "$RES/README.md" ] && mv "$RES/README.md" "$RES/README.previous.md"
mv "$RES/README.md.new" "$RES/README.md"
farm_stop
[ -s "$RES/README.previous.md" ] && bash bench/compare_previous.sh "$RES/README.previous.md" "$RES/README.md"
echo "bench: done in $(($(date +%s) - T_START)) s: $RES/README.md" >&2
exit "$FAILED"
