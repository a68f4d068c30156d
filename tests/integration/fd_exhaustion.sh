#!/usr/bin/env bash
# Running out of file descriptors in the middle of a run: salvo fits -c to the open-file
# limit when it starts, but descriptors it inherited (a shell's redirections, a parent's
# leaks) count against the same limit, so socket() can still fail with EMFILE while
# connections are open. No URL may be lost: each gets a record, those that found no
# descriptor fail as `resource` (or recover with --retry), the run ends, and the next
# run under the same limit works. A connection that gets EMFILE fails at once rather
# than waiting for a descriptor to free up, so most of a round fails together and the
# retries need a backoff long enough for the open connections to finish (a short one
# spends them all on the same shortage).
. "$(dirname "$0")/../lib.sh"
start_testd fd || exit 1
out=$T_DIR/out.jsonl
for i in $(seq 1 400); do echo "http://127.0.0.1:$TESTD_PORT/delay/200?n=$i"; done >"$T_DIR/400.txt"

# salvo under a limit of 128 open files (soft and hard, so it cannot raise it), with 70
# more descriptors held open by the shell and inherited: it sizes -c 200 down to what
# the limit leaves after its reserve, but the inherited ones leave fewer than that.
limited() {
    (
        ulimit -n 128 || exit 99
        for fd in $(seq 10 79); do eval "exec $fd</dev/null"; done
        exec timeout 60 "$@"
    )
}

limited "$SALVO" -c 200 --retry 0 -i "$T_DIR/400.txt" >"$out" 2>"$T_DIR/err"
rc=$?
check "without --retry: the run ends (not killed by the timeout)" test "$rc" -ne 124 -a "$rc" -ne 99
check_eq "without --retry: one record per URL" 400 "$(wc -l <"$out")"
check_eq "without --retry: every URL once" 400 "$(jq -r .url "$out" | sort -u | wc -l)"
resource=$(jq_count '(.ok | not) and .error == "resource"' "$out")
check "without --retry: some connections found no descriptor (resource)" test "$resource" -gt 0
check_eq "without --retry: every failure is resource" 0 \
    "$(jq_count '(.ok | not) and .error != "resource"' "$out")"
check_eq "without --retry: the others succeeded" $((400 - resource)) "$(jq_count '.ok' "$out")"

limited "$SALVO" -c 200 --retry 20 --retry-backoff 0.1 --retry-backoff-max 0.4 -i "$T_DIR/400.txt" >"$out" 2>"$T_DIR/err"
rc=$?
check "with --retry: the run ends" test "$rc" -ne 124 -a "$rc" -ne 99
check_eq "with --retry: one record per URL" 400 "$(wc -l <"$out")"
check_eq "with --retry: all ok" 400 "$(jq_count '.ok' "$out")"

# The same limits, after the exhaustion: nothing was left behind.
limited "$SALVO" -c 20 -i "$T_DIR/400.txt" >"$out" 2>"$T_DIR/err"
check_eq "a follow-up run under the same limit: all ok" 400 "$(jq_count '.ok' "$out")"

finish
