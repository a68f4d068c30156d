#!/usr/bin/env bash
# bench/same_origin.sh -- many requests to one origin (or three): what a request body
# costs when every request sends it, whether trouble on some paths slows the origin's
# healthy ones, and how close slow URLs of one host come to ceil(N / c) rounds.
#
#   bench/same_origin.sh                 the full sizes, 3 repetitions (about 3 minutes)
#   BENCH_QUICK=1 bench/same_origin.sh   small sizes, 1 repetition (about 10 seconds)
#
# The rows (full sizes; the quick ones are in the table each run writes):
#   a  one shared body: salvo -c 10 POSTs one 8 MiB file (-d @FILE) to 50 URLs of an
#      nginx that reads every body whole before it answers (client_max_body_size 100m);
#      peak RSS against the same run with a 1-byte body, in copies of the body, and
#      against one URL with the 8 MiB body;
#   b  ten quick 503s (/status/503, retried: the default --retry 2) ahead of 200 URLs
#      answering after 1 s, one origin, salvo -c 100 --per-host 100: when the slow URLs
#      were done, against 2 rounds of 1 s;
#   c  3,000 URLs cycling through ten of testd's endpoints, hostile ones included, over
#      3 origins (testd on 127.0.0.1, .2 and .3), salvo -c 300 --per-host 300 -m 5: wall
#      time against the floor of 3 attempts x 5 s that /stall takes, what the slots could
#      do (the records' total_ms summed, / 300), the longest record, the median queue_ms;
#   d  200 URLs of one host answering after 1 s, salvo -c 30 with no --per-host, and curl
#      --parallel --parallel-max 30 over the same URLs, against ceil(200 / 30) x 1 s.
# The servers are testd (tests/server/) and, for the bodies, Debian's nginx (testd refuses
# bodies over 1 MiB). Every request goes to 127.0.0.0/8. Every command is bounded (BENCH_CMD_LIMIT
# seconds, 150 by default); every process started here is stopped by its PID at exit. Writes
# same_origin.md (the tables, also printed) and same_origin.targets (rows for the targets
# table of bench/run.sh) to RES (default bench/results). Not a test, but it exits 1 when a
# correctness check fails.
set -u
cd "$(dirname "$0")/.." || exit 2
SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/measure.sh
RES=${RES:-bench/results}
LIMIT=${BENCH_CMD_LIMIT:-150}

if [ "${BENCH_QUICK:-0}" != 0 ]; then
    MODE=quick REPS=${REPS:-1}
    A_URLS=10 A_C=10
    B_SLOW=40 B_DELAY=250 B_C=20 B_EXTRA=(--retry-backoff 0.1)
    C_URLS=300 C_C=100 C_M=0.5 C_EXTRA=(--retry-backoff 0.1)
    D_URLS=40 D_DELAY=250 D_C=10
else
    MODE=full REPS=${REPS:-3}
    A_URLS=50 A_C=10
    B_SLOW=200 B_DELAY=1000 B_C=100 B_EXTRA=()
    C_URLS=3000 C_C=300 C_M=5 C_EXTRA=()
    D_URLS=200 D_DELAY=1000 D_C=30
fi
A_BODY=$((8 * 1024 * 1024))
B_503=10
# Row c: URL i goes to origin i mod 3 and endpoint i mod 10 (so every origin sees every
# endpoint). Those marked + end ok: /flaky-reset/KEY/1 resets the first request for its
# (unique) key and answers the retry.
C_PATHS="+/ +/delay/100 /status/503 /reset /close-early/1000 /garbage /stall /empty"
C_PATHS="$C_PATHS +/flaky-reset/KEY/1 +/size/1000"

for tool in python3 /usr/bin/time nginx curl jq timeout; do
    command -v "$tool" >/dev/null || { echo "needs $tool (make deps)" >&2; exit 2; }
done
if [ ! -x "$SALVO" ] || [ ! -x "$TESTD" ]; then
    echo "no $SALVO or $TESTD: run make all build/testd" >&2
    exit 2
fi
mkdir -p "$RES" || exit 2
FAILED=0

# fail WHAT: notes a failed correctness check.
fail() { echo "CHECK FAILED: $*" >&2; FAILED=1; }

# runs NAME FIELDS...: appends "wall cpu rss FIELDS..." of the last measure to NAME.runs
# (so column 4 is the ok count, as med and minok of bench/measure.sh expect); checks
# that no signal ended the command.
runs() {
    local name=$1
    shift
    echo "$WALL $CPU $RSS $*" >>"$T_DIR/$name.runs"
    [ "$RC" -lt 128 ] || fail "$name: ended by signal $((RC - 128))"
}

# ok_count FILE: records of FILE with "ok": true.
ok_count() { jq -c 'select(.ok)' "$1" | wc -l; }

# expect NAME WHAT GOT WANT: a correctness check on one run of NAME.
expect() {
    [ "$3" = "$4" ] || fail "$1: $2: $3, not $4 ($(head -c 300 "$T_DIR/$1.err"))"
}

# ---- servers ------------------------------------------------------------------------

start_servers() {
    local pf="$T_DIR/mix.port"
    # a: nginx reads each body whole (into memory) before it answers with the length it
    # was told, so a 200 means the whole body arrived.
    BODY_PORT=$(free_port)
    BODY_URL="http://127.0.0.1:$BODY_PORT/upload"
    start_nginx bodies "
    client_max_body_size 100m;
    client_body_buffer_size 16m;
    server {
        listen 127.0.0.1:$BODY_PORT;
        location = /upload { echo_read_request_body; echo \$content_length; }
    }" || exit 1
    # b, d: one origin.
    start_testd slow || exit 1
    SLOW_ORIGIN="http://127.0.0.1:$TESTD_PORT"
    # c: three origins, one testd.
    start_testd mix --listen 127.0.0.1:0 --listen 127.0.0.2:0 --listen 127.0.0.3:0 || exit 1
    mapfile -t MIX_PORTS <"$pf"
    [ "${#MIX_PORTS[@]}" = 3 ] || { echo "testd mix: ports ${MIX_PORTS[*]}" >&2; exit 1; }
}

# ---- a: one body, many requests -----------------------------------------------------

a_setup() {
    head -c "$A_BODY" /dev/urandom >"$T_DIR/body.bin"
    printf x >"$T_DIR/byte.bin"
    for _ in $(seq 1 "$A_URLS"); do echo "$BODY_URL"; done >"$T_DIR/a.txt"
    echo "$BODY_URL" >"$T_DIR/a1.txt"
}

# a_run NAME FILE BYTES URLS: salvo -c A_C -d @FILE over URLS; every record must be a
# 200 whose answer is the length nginx read ("BYTES\n").
a_run() {
    local ok bad
    measure "$1" "$SALVO" -c "$A_C" -d "@$2" -i "$4"
    ok=$(ok_count "$T_DIR/$1.out")
    bad=$(jq -c --argjson n "$(($(printf %s "$3" | wc -c) + 1))" \
        'select(.status != 200 or .bytes != $n)' "$T_DIR/$1.out" | wc -l)
    expect "$1" "records ok" "$ok" "$(wc -l <"$4")"
    expect "$1" "records without nginx's 200 and length" "$bad" 0
    runs "$1" "$ok"
}

a_md() {
    local base one rss mib=$((A_BODY / 1048576))
    base=$(med a.byte 3)
    one=$(med a.one 3)
    rss=$(med a.body 3)
    A_ABOVE=$(calc "($rss - $base) / 1024" %.1f)
    A_COPIES=$(calc "($rss - $base) * 1024 / $A_BODY" %.2f)
    A_PER=$(calc "($rss - $one) / 1024 / ($A_URLS - 1)" %.2f | sed 's/^-0\.00$/0.00/')
    echo "### 6a. One $mib MiB request body, $A_URLS requests"
    echo
    echo "\`salvo -c $A_C -d @FILE\` POSTs FILE to one nginx" \
        "(\`$BODY_URL\`: \`client_max_body_size 100m\`, \`echo_read_request_body\`, then" \
        "\`echo \$content_length\`, so every 200 says the whole body arrived; each record is" \
        "checked for it). Peak RSS from \`/usr/bin/time -f %M\`, median of $REPS run(s);" \
        "the 1-byte run is the engine's own baseline, and copies = (peak RSS - that" \
        "baseline) / $mib MiB: a copy per request would make $A_URLS."
    echo
    echo "| client | command | URLs | ok | wall s | CPU ms | peak RSS MB | above the 1-byte run MB |" \
        "copies of the body |"
    echo "|---|---|---|---|---|---|---|---|---|"
    a_row a.byte "salvo -c $A_C -d @byte.bin -i urls.txt" "1 byte" "$A_URLS" "$base"
    a_row a.one "salvo -c $A_C -d @body.bin -i one-url.txt" "$mib MiB" 1 "$base"
    a_row a.body "salvo -c $A_C -d @body.bin -i urls.txt" "$mib MiB" "$A_URLS" "$base"
    echo
    echo "urls.txt: $A_URLS lines of \`$BODY_URL\`; one-url.txt: its first line; body.bin:" \
        "$A_BODY random bytes. Each request beyond the first adds **$A_PER MB** to the peak."
    echo
}

# a_row NAME COMMAND BODY URLS BASE_KB: a row of 6a; copies against BASE_KB.
a_row() {
    local rss above="" copies=""
    rss=$(med "$1" 3)
    if [ "$1" != a.byte ]; then
        above=$(calc "($rss - $5) / 1024" %.1f)
        copies="**$(calc "($rss - $5) * 1024 / $A_BODY" %.2f)**"
    fi
    echo "| salvo | \`$2\` ($3) | $4 | $(minok "$1") | $(med "$1" 1) | $(med "$1" 2) |" \
        "$(div "$rss" 1024 %.1f) | $above | $copies |"
}

# ---- b: 503s on one path, slow answers on the others --------------------------------

b_setup() {
    {
        for _ in $(seq 1 "$B_503"); do echo "$SLOW_ORIGIN/status/503"; done
        for _ in $(seq 1 "$B_SLOW"); do echo "$SLOW_ORIGIN/delay/$B_DELAY"; done
    } >"$T_DIR/b.txt"
}

b_cmd() { echo "salvo -c $B_C --per-host $B_C ${B_EXTRA[*]:+${B_EXTRA[*]} }-i urls.txt"; }

# b_run: the slow URLs must all be ok; the 503s end as 503 after 3 attempts. "done" is
# when the last slow URL finished: its queue_ms + total_ms (from its submission, which
# is at the start of the run).
b_run() {
    local out=$T_DIR/b.out ok n503 fin
    measure b "$SALVO" -c "$B_C" --per-host "$B_C" "${B_EXTRA[@]}" -i "$T_DIR/b.txt"
    ok=$(ok_count "$out")
    n503=$(jq -c 'select(.status == 503 and .attempts == 3 and (.url | endswith("/status/503")))' \
        "$out" | wc -l)
    fin=$(jq -s '[.[] | select(.url | contains("/delay/")) | .queue_ms + .total_ms] | max / 1000' \
        "$out" | awk '{ printf "%.3f", $1 }')
    expect b "slow URLs ok" "$ok" "$B_SLOW"
    expect b "503s answered 503 after 3 attempts" "$n503" "$B_503"
    runs b "$ok" "$fin"
}

b_md() {
    local s ideal fin
    s=$(calc "$B_DELAY / 1000" %g)
    ideal=$(calc "int(($B_SLOW + $B_C - 1) / $B_C) * $s" %g)
    fin=$(med b 5)
    B_RATIO=$(div "$fin" "$ideal" %.3f) B_IDEAL=$ideal B_DONE=$fin
    echo "### 6b. $B_503 quick 503s ahead of $B_SLOW URLs answering after $s s, one origin"
    echo
    echo "urls.txt: $B_503 lines of \`$SLOW_ORIGIN/status/503\` (testd: 503 at once, retried" \
        "as any 503 is), then $B_SLOW of \`$SLOW_ORIGIN/delay/$B_DELAY\`. The 503s free" \
        "their slots at once, so the slow URLs can run in ceil($B_SLOW / $B_C) rounds of" \
        "$s s = **$ideal s**, unless the 503s make salvo hold the whole origin back." \
        "\"slow URLs done\" = the largest queue_ms + total_ms of the slow URLs' records;" \
        "the wall time also waits for the 503s' last retry (backoff with full jitter," \
        "base ${B_EXTRA[1]:-1} s). Median of $REPS run(s). Checks: the $B_SLOW slow URLs" \
        "ok; the $B_503 others status 503 after 3 attempts."
    echo
    echo "| client | command | URLs | ok | wall s | slow URLs done s | ideal s | done / ideal |" \
        "CPU ms |"
    echo "|---|---|---|---|---|---|---|---|---|"
    echo "| salvo | \`$(b_cmd)\` | $((B_503 + B_SLOW)) | $(minok b) | $(med b 1) | **$fin** |" \
        "$ideal | **$B_RATIO** | $(med b 2) |"
    echo
}

# ---- c: a hostile mix over three origins --------------------------------------------

# c_setup REP: the URL list of repetition REP (flaky keys are new in each one) and the
# number of URLs that must end ok.
c_setup() {
    awk -v n="$C_URLS" -v rep="$1" -v paths="$C_PATHS" -v p1="${MIX_PORTS[0]}" \
        -v p2="${MIX_PORTS[1]}" -v p3="${MIX_PORTS[2]}" 'BEGIN {
        np = split(paths, p, " "); port[0] = p1; port[1] = p2; port[2] = p3
        for (i = 0; i < n; i++) {
            path = p[i % np + 1]; sub(/^\+/, "", path); sub(/KEY/, "r" rep "-" i, path)
            printf "http://127.0.0.%d:%d%s\n", i % 3 + 1, port[i % 3], path
        }
    }' >"$T_DIR/c.txt"
    C_WANT=$(awk -v n="$C_URLS" -v paths="$C_PATHS" 'BEGIN {
        np = split(paths, p, " ")
        for (i = 0; i < n; i++) if (p[i % np + 1] ~ /^\+/) k++
        print k + 0 }')
}

c_cmd() {
    echo "salvo -c $C_C --per-host $C_C -m $C_M ${C_EXTRA[*]:+${C_EXTRA[*]} }-i urls.txt"
}

# c_run: every URL gets a record, exactly those of the healthy endpoints end ok, and
# /stall ones time out 3 times.
# Kept: the records' total_ms summed / C_C (s), the longest total_ms (s), and the median
# queue_ms (s).
c_run() {
    local out=$T_DIR/c.out ok n stats
    measure c "$SALVO" -c "$C_C" --per-host "$C_C" -m "$C_M" "${C_EXTRA[@]}" -i "$T_DIR/c.txt"
    ok=$(ok_count "$out")
    n=$(wc -l <"$out")
    stats=$(jq -rs --argjson c "$C_C" '
        ([.[] | .total_ms // 0]) as $t | ([.[] | .queue_ms // empty] | sort) as $q
        | "\(($t | add) / $c / 1000) \(($t | max) / 1000) \(
            if ($q | length) == 0 then 0
            elif ($q | length) % 2 == 1 then $q[($q | length - 1) / 2] / 1000
            else ($q[($q | length) / 2 - 1] + $q[($q | length) / 2]) / 2000 end)"' "$out" |
        awk '{ printf "%.3f %.3f %.3f", $1, $2, $3 }')
    expect c "records" "$n" "$C_URLS"
    expect c "records ok" "$ok" "$C_WANT"
    expect c "/stall records not a timeout after 3 attempts" "$(jq -c 'select((.url |
        endswith("/stall")) and (.error != "timeout" or .attempts != 3))' "$out" | wc -l)" 0
    jq -r '"\(.error // (if .ok then "ok" else "status \(.status)" end))"' "$out" |
        sort | uniq -c | sort -rn | awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $2 " " $3, $1 }
            END { print "" }' | sed 's/  */ /g' >"$T_DIR/c.outcomes"
    # shellcheck disable=SC2086
    runs c "$ok" $stats
}

c_md() {
    local floor
    floor=$(calc "3 * $C_M" %g)
    C_RATIO=$(div "$(med c 1)" "$floor") C_WALL=$(med c 1) C_FLOOR=$floor
    echo "### 6c. $C_URLS URLs of hostile and healthy endpoints over 3 origins"
    echo
    echo "URL i = \`http://127.0.0.K:PORT_K/PATH\` with K = i mod 3 + 1 (one testd listening" \
        "on the three addresses) and PATH the (i mod 10)-th of: $(tr -d + <<<"$C_PATHS" |
            awk '{ for (i = 1; i <= NF; i++) printf "%s`%s`", (i > 1 ? ", " : ""), $i }')" \
        "(KEY unique per URL: one reset, then an answer). Only the $C_WANT URLs of \`/\`," \
        "\`/delay/100\`, \`/flaky-reset\` and \`/size/1000\` can end ok; the others fail as" \
        "they must, most after their retries. Floor: a \`/stall\` URL takes its 3 attempts" \
        "(the default --retry 2) to the -m $C_M deadline each, **$floor s** before any" \
        "backoff sleep; a run that holds no origin back for its broken paths ends a few" \
        "backoff seconds after it. What the slots could do: the records' total_ms summed /" \
        "$C_C (a generous figure: total_ms also counts backoff sleeps and a retry's wait for" \
        "room in its origin, which hold no slot). Median of $REPS run(s). Checks: $C_URLS" \
        "records, exactly the $C_WANT healthy ones ok, every \`/stall\` one a timeout after" \
        "3 attempts."
    echo
    echo "| client | command | URLs | ok | wall s | floor s | wall / floor |" \
        "total_ms summed / $C_C, s | longest record s | median queue_ms, s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    echo "| salvo | \`$(c_cmd)\` | $C_URLS | $(minok c) | $(med c 1) | $floor | **$C_RATIO** |" \
        "$(med c 5) | $(med c 6) | $(med c 7) |"
    echo
    echo "Outcomes (last run): $(cat "$T_DIR/c.outcomes")."
    echo
}

# ---- d: slow URLs of one host, no per-host cap --------------------------------------

d_setup() {
    for _ in $(seq 1 "$D_URLS"); do echo "$SLOW_ORIGIN/delay/$D_DELAY"; done >"$T_DIR/d.txt"
    awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' "$T_DIR/d.txt" >"$T_DIR/d.cfg"
}

d_run() {
    local ok
    measure d.salvo "$SALVO" -c "$D_C" -i "$T_DIR/d.txt"
    ok=$(ok_count "$T_DIR/d.salvo.out")
    expect d.salvo "records ok" "$ok" "$D_URLS"
    runs d.salvo "$ok"
    measure d.curl curl --no-progress-meter --parallel --parallel-immediate --parallel-max "$D_C" \
        -K "$T_DIR/d.cfg" -w '%{http_code} %{time_total}\n'
    ok=$(grep -c '^200 ' "$T_DIR/d.curl.out")
    expect d.curl "answers of 200" "$ok" "$D_URLS"
    runs d.curl "$ok"
}

d_md() {
    local s ideal
    s=$(calc "$D_DELAY / 1000" %g)
    ideal=$(calc "int(($D_URLS + $D_C - 1) / $D_C) * $s" %g)
    D_RATIO=$(div "$(med d.salvo 1)" "$ideal" %.3f) D_IDEAL=$ideal D_WALL=$(med d.salvo 1)
    D_CURL=$(div "$(med d.curl 1)" "$(med d.salvo 1)")
    echo "### 6d. $D_URLS URLs of one host, each answering after $s s"
    echo
    echo "urls.txt: $D_URLS lines of \`$SLOW_ORIGIN/delay/$D_DELAY\`; salvo with no" \
        "\`--per-host\` (no cap on one origin's connections beyond -c). Ideal =" \
        "ceil($D_URLS / $D_C) x $s s. Median of $REPS run(s), the clients taking turns."
    echo
    echo "| client | command | URLs | ok | wall s | ideal s | wall / ideal | CPU ms | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    echo "| salvo | \`salvo -c $D_C -i urls.txt\` | $D_URLS | $(minok d.salvo) | $(med d.salvo 1) |" \
        "$ideal | **$D_RATIO** | $(med d.salvo 2) | $(div "$(med d.salvo 3)" 1024 %.1f) |"
    echo "| curl | \`curl --parallel --parallel-immediate --parallel-max $D_C -K urls.cfg -w" \
        "'%{http_code} %{time_total}\\n'\` | $D_URLS | $(minok d.curl) | $(med d.curl 1) |" \
        "$ideal | $(div "$(med d.curl 1)" "$ideal" %.3f) | $(med d.curl 2) |" \
        "$(div "$(med d.curl 3)" 1024 %.1f) |"
    echo
    echo "urls.cfg: \`url = \"URL\"\` and \`output = \"/dev/null\"\` per URL. Ratio: curl /" \
        "salvo wall **$D_CURL**."
    echo
}

# verdict COND: "yes" or "**no**".
verdict() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo yes; else echo "**no**"; fi; }

# targets: rows for the targets table of bench/run.sh.
targets() {
    echo "| one $((A_BODY / 1048576)) MiB body sent by $A_URLS requests: one copy in the engine" \
        "(in memory at most 2: the command line's copy of the file and the engine's one shared" \
        "copy, whatever -c) | $A_COPIES copies ($A_ABOVE MB above the 1-byte run; $A_PER MB" \
        "per request beyond the first) | $(verdict "$A_COPIES <= 2.1") |"
    echo "| $B_503 503s do not hold back the origin's $B_SLOW slow URLs: done within 5% of" \
        "$B_IDEAL s | $B_DONE s ($B_RATIO) | $(verdict "$B_RATIO <= 1.05") |"
    echo "| hostile mix over 3 origins: wall within 1.5 x the floor ($C_FLOOR s) |" \
        "$C_WALL s ($C_RATIO) | $(verdict "$C_RATIO <= 1.5") |"
    echo "| $D_URLS slow URLs of one host at -c $D_C: within 2% of ideal ($D_IDEAL s) |" \
        "$D_WALL s ($D_RATIO) | $(verdict "$D_RATIO <= 1.02") |"
    echo "| one host: never slower than curl (curl / salvo wall >= 1) | $D_CURL |" \
        "$(verdict "$D_CURL >= 1") |"
}

# ---- the run ------------------------------------------------------------------------

REV=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
start_servers
a_setup
b_setup
d_setup
curl -sf -o /dev/null "$SLOW_ORIGIN/" || { echo "testd does not answer $SLOW_ORIGIN/" >&2; exit 1; }
for rep in $(seq 1 "$REPS"); do
    echo "same_origin: $MODE run, repetition $rep of $REPS" >&2
    a_run a.byte "$T_DIR/byte.bin" 1 "$T_DIR/a.txt"
    a_run a.one "$T_DIR/body.bin" "$A_BODY" "$T_DIR/a1.txt"
    a_run a.body "$T_DIR/body.bin" "$A_BODY" "$T_DIR/a.txt"
    b_run
    c_setup "$rep"
    c_run
    d_run
done

{
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $MODE run, $(nproc) CPUs, salvo $REV, testd and" \
        "$(nginx -v 2>&1 | sed 's|.*/|nginx |'), curl $(curl --version | head -1 |
            cut -d' ' -f2), everything on this machine. Wall times from the clock around each" \
        "command's fork and exit, CPU (user + sys) from its rusage, peak RSS from" \
        "/usr/bin/time."
    echo
    a_md
    b_md
    c_md
    d_md
    [ "$FAILED" = 0 ] || printf '**Some correctness check FAILED: see stderr.**\n\n'
} >"$RES/same_origin.md"
targets >"$RES/same_origin.targets"
cat "$RES/same_origin.md"
exit "$FAILED"
