#!/usr/bin/env bash
# bench/keepalive.sh -- keep-alive throughput and client CPU per request: salvo against wrk
# and curl, all three against the same local nginx in the same run.
#
#   bench/keepalive.sh                 N=100000 URLs, 3 repetitions, callgrind and strace
#   BENCH_QUICK=1 bench/keepalive.sh   N=2000, 1 repetition, no callgrind, no strace
#   N=20000 REPS=5 SECS=2 CG_N=5000 bench/keepalive.sh
#
# The server is nginx with one worker answering GET /1k with 1024 bytes from memory,
# keep-alive for up to 1,000,000 requests per connection, no access log. On a small
# machine the server saturates first, so requests/s says little about the client; the
# figure of merit is CLIENT CPU (user + sys, from /usr/bin/time) per completed request.
# The clients, each with 100 requests in flight on keep-alive connections:
#   salvo   N URLs of the one origin, -c 100 with --per-host 100, then with the default
#           --per-host 6 (so 6 connections carry everything), records to /dev/null;
#   wrk     -t1 -c100 for SECS seconds (its own request count is the divisor);
#   curl    --parallel --parallel-max 100 over the same N URLs from a -K config file.
# The clients take turns within each repetition, so a slow spell of the machine hits all
# of them; each column of the table is the median over the repetitions.
# Correctness of what is measured: salvo exits 0 (every record ok), and one extra run per
# salvo setting writes its records to a file where every one must be ok; wrk reports no
# non-2xx answer and no socket error; curl exits 0 and -w reports N answers of 200.
# Unless quick, salvo (CG_N URLs), wrk (2 s) and curl (CG_N URLs) also run once under
# callgrind (instructions per request: repeatable on a noisy machine) and under strace -c
# (syscalls per request, salvo with both --per-host settings). Results go to bench/results/:
# keepalive.md (also printed), keepalive.callgrind.txt (salvo's top functions by inclusive
# and by self cost) and keepalive.strace-*.txt. Everything runs on 127.0.0.1; every process
# started here is stopped by its PID at exit. Not a test, but it exits 1 when a correctness
# check fails.
set -u
cd "$(dirname "$0")/.." || exit 2
SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
if [ "${BENCH_QUICK:-0}" != 0 ]; then
    N=${N:-2000} REPS=${REPS:-1} SECS=${SECS:-1} CG_N=${CG_N:-0}
else
    N=${N:-100000} REPS=${REPS:-3} SECS=${SECS:-3} CG_N=${CG_N:-10000}
fi
C=100
RES=${RES:-bench/results}
for tool in /usr/bin/time wrk curl jq nginx; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -x "$SALVO" ] || { echo "no $SALVO: run make first" >&2; exit 2; }
mkdir -p "$RES" || exit 2
FAILED=0

# start_server: nginx (one worker) on a free port of 127.0.0.1; sets PORT and URL.
start_server() {
    local body
    body=$(head -c 1024 /dev/zero | tr '\0' x)
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT/1k"
    NGINX_WORKERS=1 start_nginx keepalive "
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$PORT;
        location = /1k { return 200 \"$body\"; }
    }" || exit 1
}

# fail WHAT: notes a failed correctness check.
fail() { echo "CHECK FAILED: $*" >&2; FAILED=1; }

# timed NAME CMD...: runs CMD under /usr/bin/time, stdout to $T_DIR/NAME.out, stderr to
# $T_DIR/NAME.err; sets T (wall user sys rss_kb) and returns CMD's status.
timed() {
    local name=$1 rc
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$T_DIR/time" "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.err"
    rc=$?
    read -r -a T <"$T_DIR/time"
    return "$rc"
}

# record NAME REQUESTS WALL: appends one run of client NAME, with the CPU and RSS of T:
# requests, wall s, req/s, CPU s, CPU us/request, RSS MB, user us/request, sys us/request.
record() {
    awk -v n="$2" -v w="$3" -v u="${T[1]}" -v s="${T[2]}" -v m="${T[3]}" 'BEGIN {
        if (n <= 0) n = 1e-9
        printf "%d %.2f %.0f %.2f %.1f %.1f %.1f %.1f\n", n, w, (w > 0 ? n / w : 0), u + s,
            (u + s) * 1e6 / n, m / 1024, u * 1e6 / n, s * 1e6 / n }' >>"$T_DIR/$1.runs"
}

salvo_cmd() { echo "salvo -c $C --per-host $1 -i urls.txt -o /dev/null"; }
run_salvo() {
    timed "salvo$1" "$SALVO" -c "$C" --per-host "$1" -i "$T_DIR/urls.txt" -o /dev/null ||
        fail "salvo --per-host $1 exited $? (some record not ok)"
    record "salvo$1" "$N" "${T[0]}"
}

wrk_cmd() { echo "wrk -t1 -c$C -d${SECS}s $URL"; }
run_wrk() {
    local reqs secs bad
    timed wrk wrk -t1 -c"$C" -d"${SECS}s" "$URL" || fail "wrk exited $?"
    read -r reqs secs < <(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\1 \2/p' \
        "$T_DIR/wrk.out")
    bad=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T_DIR/wrk.out")
    [ "${bad:-0}" = 0 ] || fail "wrk: $bad non-2xx answers"
    ! grep -q 'Socket errors' "$T_DIR/wrk.out" ||
        fail "wrk: $(grep 'Socket errors' "$T_DIR/wrk.out")"
    [ "${reqs:-0}" -gt 0 ] || { fail "wrk: no request count"; reqs=0 secs=0; }
    record wrk "$reqs" "$secs"
}

curl_cmd() {
    echo "curl --no-progress-meter --parallel --parallel-immediate --parallel-max $C" \
        "-K curl.cfg -w '%{http_code} %{num_connects}\\n' >codes.txt"
}
run_curl() {
    local got
    timed curl curl --no-progress-meter --parallel --parallel-immediate --parallel-max "$C" \
        -K "$T_DIR/curl.cfg" -w '%{http_code} %{num_connects}\n' || fail "curl exited $?"
    got=$(grep -c '^200 ' "$T_DIR/curl.out")
    [ "$got" = "$N" ] || fail "curl: $got answers of 200, not $N"
    CURL_CONNS=$(awk '{ n += $2 } END { print n + 0 }' "$T_DIR/curl.out")
    record curl "$N" "${T[0]}"
}

# verify_salvo PER_HOST: one unmeasured run whose records go to a file: all N ok, and how
# many connections carried them. Sets SALVO_CONNS.
verify_salvo() {
    local ok stats
    "$SALVO" -c "$C" --per-host "$1" --stats -i "$T_DIR/urls.txt" -o "$T_DIR/records.jsonl" \
        2>"$T_DIR/stats.json"
    ok=$(grep -c '"ok":true' "$T_DIR/records.jsonl")
    [ "$ok" = "$N" ] || fail "salvo --per-host $1: $ok of $N records ok"
    stats=$(tail -1 "$T_DIR/stats.json")
    SALVO_CONNS=$(jq -r '.connections_opened' <<<"$stats" 2>/dev/null)
    [ "$(jq -r '.attempts' <<<"$stats" 2>/dev/null)" = "$N" ] ||
        fail "salvo --per-host $1: attempts != $N: $stats"
}

# median NAME COLUMN: the median of one column over the runs of NAME.
median() {
    awk -v c="$2" '{ print $c }' "$T_DIR/$1.runs" | sort -g |
        awk '{ v[NR] = $1 }
            END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# row NAME COMMAND CONNS: one table line of medians, with the ratios to wrk and curl.
row() {
    local cpu
    cpu=$(median "$1" 5)
    echo "| \`$2\` | $(median "$1" 1) | $3 | $(median "$1" 2) | $(median "$1" 3) |" \
        "$(median "$1" 4) | $(median "$1" 7) | $(median "$1" 8) | **$cpu** |" \
        "$(ratio "$cpu" "$(median wrk 5)") | $(ratio "$cpu" "$(median curl 5)") |" \
        "$(median "$1" 6) |"
}

# ---- instructions and syscalls per request ------------------------------------------

# ir_total FILE: the Ir total of a callgrind output file.
ir_total() {
    callgrind_annotate "$1" 2>/dev/null |
        sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
wrk_count() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1"; }

# callgrind_runs: salvo and curl over CG_N URLs and wrk for 2 s under callgrind; writes
# keepalive.callgrind.txt (salvo's top functions) and the Markdown section.
callgrind_runs() {
    local s_ir w_ir c_ir w_reqs fn ir
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.salvo" "$SALVO" -c "$C" \
        --per-host "$C" -i "$T_DIR/cg_urls.txt" -o /dev/null 2>"$T_DIR/cg.salvo.err" ||
        fail "salvo under callgrind"
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.wrk" wrk -t1 -c"$C" -d2s "$URL" \
        >"$T_DIR/cg.wrk.out" 2>"$T_DIR/cg.wrk.err" || fail "wrk under callgrind"
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.curl" curl --no-progress-meter \
        --parallel --parallel-immediate --parallel-max "$C" -K "$T_DIR/cg_curl.cfg" \
        >/dev/null 2>"$T_DIR/cg.curl.err" || fail "curl under callgrind"
    w_reqs=$(wrk_count "$T_DIR/cg.wrk.out")
    s_ir=$(ir_total "$T_DIR/cg.salvo")
    w_ir=$(ir_total "$T_DIR/cg.wrk")
    c_ir=$(ir_total "$T_DIR/cg.curl")
    callgrind_annotate --inclusive=yes "$T_DIR/cg.salvo" >"$T_DIR/cg.salvo.incl" 2>/dev/null
    {
        echo "== $(salvo_cmd "$C") ($CG_N URLs): top 10 by inclusive cost"
        grep -A11 'file:function' "$T_DIR/cg.salvo.incl"
        echo
        echo "== the same run: top 25 by self cost"
        callgrind_annotate "$T_DIR/cg.salvo" 2>/dev/null | grep -A26 'file:function'
    } >"$RES/keepalive.callgrind.txt"

    echo
    echo "### Instructions per request (callgrind, one run each, start-up included)"
    echo
    echo "| command | requests | Ir total | **Ir / request** | salvo / this |"
    echo "|---|---|---|---|---|"
    awk -v n="$CG_N" -v ir="$s_ir" -v w="${w_reqs:-0}" -v wir="$w_ir" -v cir="$c_ir" \
        -v s="$(salvo_cmd "$C")" -v wc="wrk -t1 -c$C -d2s" -v cc="$(curl_cmd | sed 's/ -w.*//')" '
        function line(cmd, n, ir) {
            printf "| `%s` | %d | %d | **%.0f** | %.2f |\n", cmd, n, ir, (n ? ir / n : 0),
                (n && ir ? (ir_s / n_s) / (ir / n) : 0)
        }
        BEGIN { n_s = n; ir_s = ir; line(s, n, ir); line(wc, w, wir); line(cc, n, cir) }'
    echo
    echo "Where salvo's instructions go: inclusive Ir per request of some of its functions"
    echo "(indented: called from the line above; full listing in keepalive.callgrind.txt):"
    echo
    echo "| function | Ir / request | share |"
    echo "|---|---|---|"
    for fn in request.c:do_receive +cli/main.c:on_done ++cli/output.c:output_json_record \
        +++cli/output.c:put_ms +http1.c:http1_feed salvo.c:on_sched +request.c:req_start_attempt \
        ++http1.c:http1_write_request +++buf.c:buf_printf ++malloc/malloc.c:calloc \
        +cli/main.c:feed ++request.c:req_new +++url.c:url_parse; do
        ir=$(grep -F "/${fn##*+} " "$T_DIR/cg.salvo.incl" | head -1 |
            awk '{ gsub(/,/, ""); print $1 }')
        [ -n "$ir" ] && awk -v f="$fn" -v ir="$ir" -v n="$CG_N" -v t="$s_ir" 'BEGIN {
            p = f; gsub(/[^+].*/, "", p); gsub(/\+/, "\\&nbsp;\\&nbsp;", p); sub(/^\++/, "", f)
            printf "| %s%s | %.0f | %.1f%% |\n", p, f, ir / n, 100 * ir / t }'
    done
}

# strace_runs: syscalls per request of salvo (both --per-host settings, CG_N URLs) and
# wrk (2 s, divided by its own count); writes keepalive.strace-*.txt and a section.
strace_runs() {
    local w_reqs f
    strace -c -f -o "$RES/keepalive.strace-salvo$C.txt" "$SALVO" -c "$C" --per-host "$C" \
        -i "$T_DIR/cg_urls.txt" -o /dev/null || fail "salvo under strace"
    strace -c -f -o "$RES/keepalive.strace-salvo6.txt" "$SALVO" -c "$C" --per-host 6 \
        -i "$T_DIR/cg_urls.txt" -o /dev/null || fail "salvo under strace"
    strace -c -f -o "$RES/keepalive.strace-wrk.txt" wrk -t1 -c"$C" -d2s "$URL" \
        >"$T_DIR/st.wrk.out" 2>&1 || fail "wrk under strace"
    w_reqs=$(wrk_count "$T_DIR/st.wrk.out")
    echo
    echo "### Syscalls per request (strace -c -f, one run each)"
    echo
    echo "| syscall | salvo --per-host $C ($CG_N URLs) | salvo --per-host 6 ($CG_N URLs) |" \
        "wrk (${w_reqs:-0} requests in 2 s under strace) |"
    echo "|---|---|---|---|"
    # Columns of strace -c: % time, seconds, usecs/call, calls, [errors,] syscall.
    for f in salvo$C salvo6 wrk; do cat "$RES/keepalive.strace-$f.txt"; echo "=== end"; done |
        awk -v n1="$CG_N" -v n2="$CG_N" -v n3="${w_reqs:-0}" '
        BEGIN { d[1] = n1; d[2] = n2; d[3] = n3; f = 1 }
        /^=== end/ { f++; next }
        $NF ~ /^[a-z_0-9]+$/ && $NF != "syscall" { c[f, $NF] = $4; names[$NF] = 1 }
        function per(i, s) { return d[i] ? c[i, s] / d[i] : 0 }
        END {
            for (s in names)
                if (s != "total" && (per(1, s) >= 0.01 || per(2, s) >= 0.01 || per(3, s) >= 0.01))
                    printf "| %s | %.2f | %.2f | %.2f |\n", s, per(1, s), per(2, s), per(3, s)
            printf "| ~total | **%.2f** | **%.2f** | **%.2f** |\n", per(1, "total"),
                per(2, "total"), per(3, "total")
        }' | sort -t'|' -k3,3gr | sed 's/~total/**total**/'
}

# ---- the run ----------------------------------------------------------------------

REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
start_server
awk -v u="$URL" -v n="$N" 'BEGIN { for (i = 0; i < n; i++) print u }' >"$T_DIR/urls.txt"
awk -v u="$URL" -v n="$N" 'BEGIN {
    for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' >"$T_DIR/curl.cfg"
curl -sf -o /dev/null "$URL" || { echo "nginx does not answer $URL" >&2; exit 1; }

verify_salvo "$C"
CONNS100=$SALVO_CONNS
verify_salvo 6
CONNS6=$SALVO_CONNS
for rep in $(seq 1 "$REPS"); do
    echo "repetition $rep of $REPS (N=$N)" >&2
    run_salvo "$C"
    run_salvo 6
    run_wrk
    run_curl
done

{
    echo "## Keep-alive: client CPU per request, salvo vs wrk vs curl"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, salvo $REV," \
        "nginx $(nginx -v 2>&1 | sed 's|.*/||') (1 worker, 1024-byte" \
        "answers from memory, keep-alive), wrk $(wrk --version 2>&1 | head -1 | cut -d' ' -f2)," \
        "curl $(curl --version | head -1 | cut -d' ' -f2). $N URLs per salvo and curl run;" \
        "wrk runs ${SECS} s. Median of $REPS repetitions per column; CPU = user + sys of the" \
        "client (/usr/bin/time), µs per completed request; ratios are of CPU per request."
    echo
    echo "| command | requests | connections | wall s | req/s | CPU s | user µs/req |" \
        "sys µs/req | **CPU µs/req** | vs wrk | vs curl | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    row salvo$C "$(salvo_cmd "$C")" "$CONNS100"
    row salvo6 "$(salvo_cmd 6)" "$CONNS6"
    row wrk "$(wrk_cmd)" "$C"
    row curl "$(curl_cmd)" "$CURL_CONNS"
    echo
    echo "urls.txt: $N lines of $URL. curl.cfg: $N pairs of lines" \
        "\`url = \"$URL\"\` / \`output = \"/dev/null\"\`."
    echo "Checks: salvo exited 0 on every run and a run per setting with \`-o records.jsonl" \
        "--stats\` had $N of $N records ok (connections from its \`connections_opened\`); wrk" \
        "reported no non-2xx answer and no socket error; curl exited 0 with $N answers of 200" \
        "(connections: the sum of \`num_connects\`)."
    if [ "$CG_N" -gt 0 ]; then
        head -"$CG_N" "$T_DIR/urls.txt" >"$T_DIR/cg_urls.txt"
        head -$((2 * CG_N)) "$T_DIR/curl.cfg" >"$T_DIR/cg_curl.cfg"
        callgrind_runs
        strace_runs
    fi
    [ "$FAILED" = 0 ] || printf '\n**Some correctness check FAILED: see stderr.**\n'
} >"$RES/keepalive.md"
cat "$RES/keepalive.md"
exit "$FAILED"
