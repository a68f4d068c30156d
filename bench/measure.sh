#!/usr/bin/env bash
# bench/measure.sh -- how the benchmark scripts time a command and summarise repeated
# runs. Sourced after tests/lib.sh (which gives T_DIR), by bench/run.sh and
# bench/same_origin.sh. LIMIT (seconds, default 150) bounds any one measured command.

# measure NAME CMD...: runs CMD (killed with its process group after LIMIT s) with stdin
# from /dev/null and stdout to $T_DIR/NAME.out; sets WALL (s) and CPU (user + sys, ms)
# from the clock around fork and exit and the rusage of wait4, to the microsecond (date
# would add its own start-up, /usr/bin/time rounds to 10 ms), and RSS (peak, KB) from
# /usr/bin/time in between: Linux carries the peak RSS of the parent's image across
# exec, so the child's own figure needs a small parent. Sets RC to CMD's exit status
# (128 + N when signal N ended it, 137 when LIMIT did).
# shellcheck disable=SC2034 # WALL, CPU, RSS and RC are for the caller
measure() {
    local name=$1
    shift
    rm -f "$T_DIR/$name.time" "$T_DIR/$name.time.rss"
    python3 -c '
import os, signal, subprocess, sys, threading, time
limit, out, err, res = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cmd = ["/usr/bin/time", "-f", "%M", "-o", res + ".rss"] + sys.argv[5:]
with open(out, "wb") as o, open(err, "wb") as e:
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                         start_new_session=True)
    killer = threading.Timer(limit, lambda: os.killpg(p.pid, signal.SIGKILL))
    killer.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    killer.cancel()
with open(res, "w") as f:
    rc = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    f.write("%.3f %.1f %d\n" % (wall, (ru.ru_utime + ru.ru_stime) * 1000, rc))
' "${LIMIT:-150}" "$T_DIR/$name.out" "$T_DIR/$name.err" "$T_DIR/$name.time" "$@"
    WALL=0 CPU=0 RSS=0 RC=0
    read -r WALL CPU RC <"$T_DIR/$name.time"
    RSS=$(tail -1 "$T_DIR/$name.time.rss" 2>/dev/null)
    [[ "$RSS" =~ ^[0-9]+$ ]] || RSS=0
}

# med NAME COL: median of column COL (1 wall, 2 CPU, 3 RSS KB, 4 ok) over NAME's runs.
med() {
    awk -v c="$2" '{ print $c }' "$T_DIR/$1.runs" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "nan"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
minok() { awk '{ print $4 }' "$T_DIR/$1.runs" | sort -g | head -1; }
# calc EXPR [FMT]: awk arithmetic on numbers (nan when a divisor is 0).
calc() { awk "BEGIN { x = $1; printf \"${2:-%.2f}\", x }" 2>/dev/null || echo nan; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b + 0 == 0) print "nan"; else printf f, a / b }'; }
