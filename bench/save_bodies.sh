#!/usr/bin/env bash
# bench/save_bodies.sh -- saving bodies to disk (--output-dir): what it costs in memory
# and in client CPU, against the same run that drops the bodies and against curl -o.
#
#   bench/save_bodies.sh                 200 URLs of 50 MiB bodies, -c 200 (9.8 GiB a run)
#   BENCH_QUICK=1 bench/save_bodies.sh   20 URLs of 5 MiB bodies, -c 20 (a few seconds)
#   BENCH_SAVE_DIR=DIR bench/save_bodies.sh   files under DIR instead of the build directory
#   REPS=3 bench/save_bodies.sh          three repetitions (medians) instead of one
#
# One nginx on 127.0.0.1 serves one file of random bytes (sendfile, 2 workers); every URL
# is that file. Each repetition runs, in turn:
#   salvo -c C -m M -i urls.txt                    the bodies dropped: the engine's own RSS;
#   salvo -c C -m M --output-dir DIR -i urls.txt   every body streamed to DIR/<index>.body;
#   curl --parallel --parallel-max C -K urls.cfg   the same URLs, each to its own file.
# -m M (300 s; 60 quick): the default 30 s per attempt is too short when 200 transfers
# share one disk (10 GiB at 300 MB/s is over 30 s), and curl has no deadline by default.
# Peak RSS from /usr/bin/time, CPU (user + sys) from the rusage of wait4 (bench/measure.sh).
# Target: the peak RSS of the --output-dir run at most 2x that of the run that drops the
# bodies. CPU per MiB saved is reported for salvo and curl, and curl / salvo.
# The files go to a fresh directory on the disk of the build directory (not a tmpfs, whose
# pages would be RAM), created here and removed at exit; a run's files are checked (every
# record ok with the whole length, one file per URL of exactly that length, the first and
# last file hashed against the served file) and deleted before the next run, so the disk
# holds one run's files at most. Before anything runs, the free space of that disk is read
# (df): when one run plus a margin does not fit, the body size is scaled down and the
# table says so. Every command is bounded (BENCH_CMD_LIMIT seconds, 400 by default); every
# process started here is stopped by its PID at exit. Writes save_bodies.md (the table,
# also printed) and save_bodies.targets (a row for the targets table of bench/run.sh) to
# RES (default bench/results). Not a test, but it exits 1 when a correctness check fails.
set -u
cd "$(dirname "$0")/.." || exit 2
SALVO_BUILD=${SALVO_BUILD:-$(cd "${B:-build}" && pwd)}
. tests/lib.sh
. bench/measure.sh
RES=${RES:-bench/results}
LIMIT=${BENCH_CMD_LIMIT:-400}

if [ "${BENCH_QUICK:-0}" != 0 ]; then
    MODE=quick REPS=${REPS:-1} N=20 C=20 WANT_MIB=5 M=60
else
    MODE=full REPS=${REPS:-1} N=200 C=200 WANT_MIB=50 M=300
fi
MIB=1048576

for tool in python3 /usr/bin/time nginx curl jq sha256sum df timeout; do
    command -v "$tool" >/dev/null || { echo "needs $tool (make deps)" >&2; exit 2; }
done
[ -x "$SALVO" ] || { echo "no $SALVO: run make first" >&2; exit 2; }
mkdir -p "$RES" || exit 2
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
FAILED=0

# fail WHAT: notes a failed correctness check.
fail() { echo "CHECK FAILED: $*" >&2; FAILED=1; }

# expect NAME WHAT GOT WANT: a correctness check on one run of NAME.
expect() {
    [ "$3" = "$4" ] || fail "$1: $2: $3, not $4 ($(head -c 300 "$T_DIR/$1.err"))"
}

# ---- where the files go -------------------------------------------------------------

PARENT=${BENCH_SAVE_DIR:-$SALVO_BUILD}
mkdir -p "$PARENT" || exit 2
OUT=$(mktemp -d "$PARENT/save-bodies.XXXXXX") || exit 2
trap '[ -n "$OUT" ] && rm -rf -- "$OUT"; t_cleanup' EXIT
FSTYPE=$(stat -f -c %T "$OUT")
case $FSTYPE in
tmpfs | ramfs)
    echo "$OUT is on a $FSTYPE, whose files are RAM: set BENCH_SAVE_DIR to a disk" >&2
    exit 2
    ;;
esac

# The body size: WANT_MIB, or less when N of them and a margin (1 GiB + 10%) do not fit
# in the free space of the disk.
FREE_KB=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
fits() { awk -v f="$FREE_KB" -v n="$N" -v m="$1" 'BEGIN {
    exit !(f * 1024 >= 1.1 * n * m * 1048576 + 1073741824) }'; }
SIZE_MIB=$WANT_MIB
SCALED=""
if ! fits "$SIZE_MIB"; then
    SIZE_MIB=$(awk -v f="$FREE_KB" -v n="$N" 'BEGIN {
        printf "%d", (f * 1024 - 1073741824) / 1.1 / n / 1048576 }')
    [ "$SIZE_MIB" -ge 1 ] 2>/dev/null ||
        { echo "not enough free disk for $N bodies of 1 MiB under $OUT" >&2; exit 2; }
    SCALED="Scaled down from $WANT_MIB MiB: the disk had $((FREE_KB / 1024)) MiB free,"
    SCALED="$SCALED and one run of $N x $WANT_MIB MiB plus a margin (1 GiB + 10%) did not fit."
    echo "save_bodies: $SCALED" >&2
fi
SIZE=$((SIZE_MIB * MIB))
TOTAL_MIB=$((N * SIZE_MIB))

# ---- the server ---------------------------------------------------------------------

start_server() {
    mkdir -p "$T_DIR/www"
    head -c "$SIZE" /dev/urandom >"$T_DIR/www/body.bin"
    SUM=$(sha256sum <"$T_DIR/www/body.bin" | cut -d' ' -f1)
    PORT=$(free_port)
    URL="http://127.0.0.1:$PORT/body.bin"
    start_nginx save_bodies "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$PORT;
        root $T_DIR/www;
    }" || exit 1
    for _ in $(seq 1 "$N"); do echo "$URL"; done >"$T_DIR/urls.txt"
    awk -v d="$OUT" '{ printf "url = \"%s\"\noutput = \"%s/%d.body\"\n", $0, d, NR - 1 }' \
        "$T_DIR/urls.txt" >"$T_DIR/urls.cfg"
}

# ---- checking the files --------------------------------------------------------------

# files_check NAME: the files of the run NAME in OUT: one per URL, 0.body to N-1.body,
# each SIZE bytes, nothing else (no .part left), the first and the last with the served
# file's sha256. Appends "right hashed" to NAME.files; then deletes them.
files_check() {
    local name=$1 right other missing hashed=0 f
    right=$(find "$OUT" -maxdepth 1 -type f -name '*.body' -size "${SIZE}c" | wc -l)
    other=$(find "$OUT" -mindepth 1 ! \( -type f -name '*.body' -size "${SIZE}c" \) | wc -l)
    missing=$(for f in $(seq 0 $((N - 1))); do [ -f "$OUT/$f.body" ] || echo "$f"; done | wc -l)
    for f in 0 $((N - 1)); do
        [ -f "$OUT/$f.body" ] && [ "$(sha256sum <"$OUT/$f.body" | cut -d' ' -f1)" = "$SUM" ] &&
            hashed=$((hashed + 1))
    done
    expect "$name" "files of $SIZE bytes" "$right" "$N"
    expect "$name" "other files (wrong size, .part)" "$other" 0
    expect "$name" "files missing of 0.body to $((N - 1)).body" "$missing" 0
    expect "$name" "files 0.body and $((N - 1)).body with the served sha256" "$hashed" 2
    echo "$right $hashed" >>"$T_DIR/$name.files"
    find "$OUT" -mindepth 1 -delete
}

# runs NAME OK: appends "wall cpu rss ok" of the last measure to NAME.runs (the columns
# med and minok of bench/measure.sh read); checks that no signal ended the command.
runs() {
    echo "$WALL $CPU $RSS $2" >>"$T_DIR/$1.runs"
    [ "$RC" -lt 128 ] || fail "$1: ended by signal $((RC - 128))"
}

# salvo_ok NAME DIR: records of NAME that are a whole 200 of SIZE bytes at the first
# attempt (with DIR: saved as DIR/<index>.body).
salvo_ok() {
    jq -c --argjson n "$SIZE" --arg d "$2" 'select(.ok and .status == 200 and .bytes == $n
        and .attempts == 1 and ($d == "" or .body_file == "\($d)/\(.index).body"))' \
        "$T_DIR/$1.out" | wc -l
}

# outcomes NAME: how the records of NAME ended, counted ("ok after 1 attempt(s): 195,
# timeout after 3 attempt(s): 5").
outcomes() {
    jq -rs 'map("\(.error // (if .ok then "ok" else "status \(.status)" end)) after" +
        " \(.attempts) attempt(s)") | group_by(.) | map("\(.[0]): \(length)") | join(", ")' \
        "$T_DIR/$1.out"
}

# ---- the runs -----------------------------------------------------------------------

run_drop() {
    local ok
    measure drop "$SALVO" -c "$C" -m "$M" -i "$T_DIR/urls.txt"
    ok=$(salvo_ok drop "")
    expect drop "records ok with $SIZE bytes at the first attempt ($(outcomes drop))" "$ok" "$N"
    expect drop "exit status" "$RC" 0
    runs drop "$ok"
}

run_save() {
    local ok
    measure save "$SALVO" -c "$C" -m "$M" --output-dir "$OUT" -i "$T_DIR/urls.txt"
    ok=$(salvo_ok save "$OUT")
    expect save "records ok with $SIZE bytes at the first attempt, saved ($(outcomes save))" \
        "$ok" "$N"
    expect save "exit status" "$RC" 0
    runs save "$ok"
    files_check save
}

run_curl() {
    local ok
    measure curl curl --no-progress-meter --parallel --parallel-immediate --parallel-max "$C" \
        -K "$T_DIR/urls.cfg" -w '%{http_code} %{size_download}\n'
    ok=$(grep -cx "200 $SIZE" "$T_DIR/curl.out")
    expect curl "answers of 200 with $SIZE bytes" "$ok" "$N"
    expect curl "exit status" "$RC" 0
    runs curl "$ok"
    files_check curl
}

# ---- the table ----------------------------------------------------------------------

# row CLIENT COMMAND NAME FILES: a row of the table; FILES says whether NAME saved any.
row() {
    local cpu files="–" hashed="–"
    cpu=$(med "$3" 2)
    if [ "$4" = yes ]; then
        files=$(awk '{ print $1 }' "$T_DIR/$3.files" | sort -g | head -1)
        hashed=$(awk '{ print $2 }' "$T_DIR/$3.files" | sort -g | head -1)
    fi
    echo "| $1 | \`$2\` | $N | $(minok "$3") | $(med "$3" 1) | $cpu |" \
        "$(div "$cpu" "$TOTAL_MIB" %.2f) | $(div "$TOTAL_MIB" "$(med "$3" 1)" %.0f) |" \
        "$(div "$(med "$3" 3)" 1024 %.1f) | $files | $hashed |"
}

table() {
    local drop_rss save_rss salvo_mb curl_mb
    drop_rss=$(med drop 3)
    save_rss=$(med save 3)
    RSS_RATIO=$(div "$save_rss" "$drop_rss")
    salvo_mb=$(div "$(med save 2)" "$TOTAL_MIB" %.2f)
    curl_mb=$(div "$(med curl 2)" "$TOTAL_MIB" %.2f)
    CPU_RATIO=$(div "$curl_mb" "$salvo_mb")
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $MODE run, $(nproc) CPUs, salvo" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nginx -v 2>&1 |
            sed 's|.*/|nginx |'), curl $(curl --version | head -1 | cut -d' ' -f2)," \
        "everything on this machine. Files written to a $FSTYPE directory beside the build" \
        "directory, deleted after each run."
    echo
    echo "### $N bodies of $SIZE_MIB MiB, saved with --output-dir"
    echo
    echo "urls.txt: $N lines of \`$URL\`, a file of $SIZE random bytes that nginx sends with" \
        "sendfile ($TOTAL_MIB MiB a run). The salvo runs differ only by \`--output-dir DIR\`;" \
        "curl saves each URL to its own file (urls.cfg: \`url = \"URL\"\` and" \
        "\`output = \"DIR/K.body\"\` per URL). \`-m $M\`: the default 30 s per attempt would" \
        "cut transfers that share one disk $C at a time (curl has no deadline by default)." \
        "Wall time from the clock around each command," \
        "CPU (user + sys) from its rusage, peak RSS from \`/usr/bin/time -f %M\`; median of" \
        "$REPS run(s), the three taking turns. Checks: every record (every curl \`-w\` line)" \
        "a 200 of $SIZE bytes (salvo's at the first attempt), the salvo records naming \`DIR/<index>.body\`; after each run" \
        "that saves, $N files of exactly $SIZE bytes and nothing else in DIR, the first and" \
        "the last hashed against the served file; then DIR is emptied."
    [ -n "$SCALED" ] && echo && echo "**$SCALED**"
    echo
    echo "| client | command | URLs | ok | wall s | CPU ms | CPU ms / MiB | MiB/s | peak RSS MB |" \
        "files of the right size | files hashed right |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    row salvo "salvo -c $C -m $M -i urls.txt" drop no
    row salvo "salvo -c $C -m $M --output-dir DIR -i urls.txt" save yes
    row curl "curl --parallel --parallel-immediate --parallel-max $C -K urls.cfg -w '%{http_code} %{size_download}\\n'" \
        curl yes
    echo
    echo "Peak RSS with \`--output-dir\` / without: **$RSS_RATIO** ($(div "$save_rss" 1024 %.1f)" \
        "MB / $(div "$drop_rss" 1024 %.1f) MB; target at most 2). Client CPU per MiB saved:" \
        "salvo **$salvo_mb ms**, curl **$curl_mb ms**; curl / salvo **$CPU_RATIO**."
    echo
}

targets() {
    echo "| saving $N bodies of $SIZE_MIB MiB at -c $C (\`--output-dir\`): peak RSS at most" \
        "2 x the run that drops them | $RSS_RATIO x ($(div "$(med save 3)" 1024 %.1f) MB /" \
        "$(div "$(med drop 3)" 1024 %.1f) MB); CPU per MiB saved curl / salvo $CPU_RATIO |" \
        "$(verdict "$RSS_RATIO <= 2") |"
}

# verdict COND: "yes" or "**no**".
verdict() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo yes; else echo "**no**"; fi; }

# ---- the run ------------------------------------------------------------------------

echo "save_bodies: $MODE run, $N x $SIZE_MIB MiB, files in $OUT ($FSTYPE," \
    "$((FREE_KB / 1024)) MiB free)" >&2
start_server
curl -sf -o /dev/null -r 0-0 "$URL" || { echo "nginx does not answer $URL" >&2; exit 1; }
for rep in $(seq 1 "$REPS"); do
    echo "save_bodies: repetition $rep of $REPS" >&2
    run_drop
    run_save
    run_curl
done
table >"$RES/save_bodies.md"
[ "$FAILED" = 0 ] || printf '**Some correctness check FAILED: see stderr.**\n\n' >>"$RES/save_bodies.md"
targets >"$RES/save_bodies.targets"
cat "$RES/save_bodies.md"
exit "$FAILED"
