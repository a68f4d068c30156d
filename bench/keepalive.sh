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
# (syscalls per request). Results go to bench/results/ (keepalive.md and the callgrind
# and strace reports). Everything runs on 127.0.0.1; every process started here is stopped
# by its PID at exit. Not a test, but it exits 1 when a correctness check fails.
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
    local dir="$T_DIR/nginx" user="" body
    mkdir -p "$dir/tmp"
    # Workers run as "nobody" when the master is root, and could not read $T_DIR.
    [ "$(id -u)" = 0 ] && user="user root;"
    body=$(head -c 1024 /dev/zero | tr '\0' x)
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT/1k"
    cat >"$dir/nginx.conf" <<NGINX
daemon off;
$user
worker_processes 1;
worker_rlimit_nofile 8192;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$PORT;
        location = /1k { return 200 "$body"; }
    }
}
NGINX
    nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/out" 2>&1 &
    T_PIDS+=("$!")
    wait_listen 127.0.0.1 "$PORT" ||
        { echo "nginx did not listen on $PORT" >&2; cat "$dir/out" "$dir/error.log" >&2; exit 1; }
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

# record NAME REQUESTS WALL: appends one run (requests, wall s, req/s, CPU s, us/request,
# RSS MB) of client NAME, with the CPU and RSS of T.
record() {
    awk -v n="$2" -v w="$3" -v u="${T[1]}" -v s="${T[2]}" -v m="${T[3]}" 'BEGIN {
        printf "%d %.2f %.0f %.2f %.1f %.1f\n", n, w, (w > 0 ? n / w : 0), u + s,
            (n > 0 ? (u + s) * 1e6 / n : 0), m / 1024 }' >>"$T_DIR/$1.runs"
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
    read -r reqs secs < <(sed -n 's/^ *\([0-9]*\) requests in \([0-9.]*\)s.*/\1 \2/p' "$T_DIR/wrk.out")
    bad=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T_DIR/wrk.out")
    [ "${bad:-0}" = 0 ] || fail "wrk: $bad non-2xx answers"
    ! grep -q 'Socket errors' "$T_DIR/wrk.out" || fail "wrk: $(grep 'Socket errors' "$T_DIR/wrk.out")"
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
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# row NAME COMMAND CONNS: one table line of medians, with the ratios to wrk and curl.
row() {
    local cpu
    cpu=$(median "$1" 5)
    echo "| \`$2\` | $(median "$1" 1) | $3 | $(median "$1" 2) | $(median "$1" 3) |" \
        "$(median "$1" 4) | **$cpu** | $(ratio "$cpu" "$(median wrk 5)") |" \
        "$(ratio "$cpu" "$(median curl 5)") | $(median "$1" 6) |"
}

# ---- instructions and syscalls per request ------------------------------------------

# ir_total FILE: the Ir total of a callgrind output file.
ir_total() { callgrind_annotate "$1" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,; }

# profile: callgrind and strace runs; writes their reports and the Markdown section.
profile() {
    local cg="$RES/keepalive.callgrind" s_ir w_ir c_ir w_reqs fn ir sreqs
    head -"$CG_N" "$T_DIR/urls.txt" >"$T_DIR/cg_urls.txt"
    head -$((2 * CG_N)) "$T_DIR/curl.cfg" >"$T_DIR/cg_curl.cfg"
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.salvo" "$SALVO" -c "$C" \
        --per-host "$C" -i "$T_DIR/cg_urls.txt" -o /dev/null 2>"$T_DIR/cg.salvo.err" ||
        fail "salvo under callgrind"
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.wrk" wrk -t1 -c"$C" -d2s "$URL" \
        >"$T_DIR/cg.wrk.out" 2>"$T_DIR/cg.wrk.err" || fail "wrk under callgrind"
    valgrind --tool=callgrind --callgrind-out-file="$T_DIR/cg.curl" curl --no-progress-meter \
        --parallel --parallel-immediate --parallel-max "$C" -K "$T_DIR/cg_curl.cfg" \
        >/dev/null 2>"$T_DIR/cg.curl.err" || fail "curl under callgrind"
    w_reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T_DIR/cg.wrk.out")
    s_ir=$(ir_total "$T_DIR/cg.salvo") w_ir=$(ir_total "$T_DIR/cg.wrk") c_ir=$(ir_total "$T_DIR/cg.curl")
    {
        echo "== salvo -c $C --per-host $C, $CG_N URLs: top 10 by inclusive cost"
        callgrind_annotate --inclusive=yes "$T_DIR/cg.salvo" 2>/dev/null | grep -A10 'file:function'
        echo
        echo "== salvo: top 25 by self cost"
        callgrind_annotate "$T_DIR/cg.salvo" 2>/dev/null | grep -A25 'file:function'
    } >"$cg.txt"

    # Syscalls: salvo over CG_N URLs, wrk for 2 s (divided by its own request count).
    strace -c -f -o "$RES/keepalive.strace-salvo.txt" "$SALVO" -c "$C" --per-host "$C" \
        -i "$T_DIR/cg_urls.txt" -o /dev/null || fail "salvo under strace"
    strace -c -f -o "$RES/keepalive.strace-wrk.txt" wrk -t1 -c"$C" -d2s "$URL" \
        >"$T_DIR/st.wrk.out" 2>&1 || fail "wrk under strace"
    sreqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$T_DIR/st.wrk.out")

    echo
    echo "### Instructions per request (callgrind, one run each, start-up included)"
    echo
    echo "| client | requests | Ir total | **Ir / request** | salvo / client |"
    echo "|---|---|---|---|---|"
    awk -v n="$CG_N" -v ir="$s_ir" -v cmd="$(salvo_cmd "$C")" 'BEGIN {
        printf "| `%s` (%d URLs) | %d | %d | **%.0f** | 1.00 |\n", cmd, n, n, ir, ir / n }'
    awk -v n="${w_reqs:-0}" -v ir="$w_ir" -v sn="$CG_N" -v si="$s_ir" \
        -v cmd="wrk -t1 -c$C -d2s" 'BEGIN {
        printf "| `%s` | %d | %d | **%.0f** | %.1f |\n", cmd, n, ir, (n ? ir / n : 0),
            (n && ir ? (si / sn) / (ir / n) : 0) }'
    awk -v n="$CG_N" -v ir="$c_ir" -v si="$s_ir" -v cmd="$(curl_cmd | sed 's/ -w.*//')" 'BEGIN {
        printf "| `%s` (%d URLs) | %d | %d | **%.0f** | %.2f |\n", cmd, n, n, ir, ir / n, si / ir }'
    echo
    echo "Where salvo's instructions go (inclusive Ir per request; a function can appear"
    echo "under another; the full listing is in keepalive.callgrind.txt):"
    echo
    echo "| function | Ir / request | share |"
    echo "|---|---|---|"
    for fn in request.c:do_receive cli/main.c:on_done cli/output.c:output_json_record \
        cli/output.c:put_ms libio/iofflush.c:fflush salvo.c:on_sched request.c:req_start_attempt \
        http1.c:http1_write_request buf.c:buf_printf http1.c:http1_feed cli/main.c:feed \
        request.c:req_new url.c:url_parse malloc.c:calloc; do
        ir=$(callgrind_annotate --inclusive=yes "$T_DIR/cg.salvo" 2>/dev/null |
            grep -F "/$fn " | head -1 | awk '{ gsub(/,/, "", $1); print $1 }')
        [ -n "$ir" ] && awk -v f="$fn" -v ir="$ir" -v n="$CG_N" -v t="$s_ir" \
            'BEGIN { printf "| %s | %.0f | %.1f%% |\n", f, ir / n, 100 * ir / t }'
    done
    echo
    echo "### Syscalls per request (strace -c -f, one run each)"
    echo
    echo "| syscall | salvo ($CG_N URLs) | wrk (${sreqs:-0} requests in 2 s) |"
    echo "|---|---|---|"
    awk -v sn="$CG_N" -v wn="${sreqs:-0}" '
        FNR == 1 { f++ }
        $NF ~ /^[a-z_0-9]+$/ && $NF != "syscall" { c[f, $NF] = $4; names[$NF] = 1 }
        END {
            for (s in names) {
                a = c[1, s] / sn; b = (wn ? c[2, s] / wn : 0)
                if (s != "total" && (a >= 0.01 || b >= 0.01)) printf "| %s | %.2f | %.2f |\n", s, a, b
            }
        }' "$RES/keepalive.strace-salvo.txt" "$RES/keepalive.strace-wrk.txt" | sort -t'|' -k3 -gr
    awk -v sn="$CG_N" -v wn="${sreqs:-0}" '$NF == "total" { t[++f] = $4 }
        END { printf "| **total** | **%.2f** | **%.2f** |\n", t[1] / sn, (wn ? t[2] / wn : 0) }' \
        "$RES/keepalive.strace-salvo.txt" "$RES/keepalive.strace-wrk.txt"
}

# ---- the run ----------------------------------------------------------------------

REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
start_server
for i in $(seq 1 "$N"); do echo "$URL"; done >"$T_DIR/urls.txt"
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
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, salvo $REV, nginx $(nginx -v 2>&1 | sed 's|.*/||') (1 worker, 1024-byte" \
        "answers from memory, keep-alive), wrk $(wrk --version 2>&1 | head -1 | cut -d' ' -f2)," \
        "curl $(curl --version | head -1 | cut -d' ' -f2). $N URLs per salvo and curl run;" \
        "wrk runs ${SECS} s. Median of $REPS repetitions per column; CPU = user + sys of the" \
        "client (/usr/bin/time), µs per completed request; ratios are of CPU per request."
    echo
    echo "| command | requests | connections | wall s | req/s | CPU s | **CPU µs/req** |" \
        "vs wrk | vs curl | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
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
    [ "$CG_N" -gt 0 ] && profile
    [ "$FAILED" = 0 ] || printf '\n**Some correctness check FAILED: see stderr.**\n'
} >"$RES/keepalive.md"
cat "$RES/keepalive.md"
exit "$FAILED"
