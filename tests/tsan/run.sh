#!/usr/bin/env bash
# Runs engines_threads (its path is the argument) against testd: every result must
# arrive, answered, and ThreadSanitizer must report nothing.
. "$(dirname "$0")/../lib.sh"
start_testd tsan || exit 1
report=$T_DIR/tsan-report
TSAN_OPTIONS="halt_on_error=0:exitcode=66:log_path=$report" "$1" "$TESTD_PORT" >"$T_DIR/out" 2>&1
rc=$?
cat "$T_DIR/out" | sed 's/^/# /'
check_eq "4 engines in 4 threads on 128 KiB stacks: every result arrived ok" 0 "$rc"
check_eq "ThreadSanitizer reported nothing" "" "$(cat "$report".* 2>/dev/null | head -40)"
finish
