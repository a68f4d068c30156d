#!/usr/bin/env bash
# Runs engines_threads (its path is the argument) against testd, over http and then over
# https (stunnel with the test CA's certificate in front of testd): every result must
# arrive, answered, and ThreadSanitizer must report nothing.
. "$(dirname "$0")/../lib.sh"
start_testd tsan || exit 1
make_certs || exit 1
start_stunnel --to "$TESTD_PORT" || exit 1

# run_threads WHAT ARGS...: one run of engines_threads, checked.
run_threads() {
    local what=$1 report="$T_DIR/tsan-report.$1"; shift
    TSAN_OPTIONS="halt_on_error=0:exitcode=66:log_path=$report" "$PROGRAM" "$@" \
        >"$T_DIR/out.$what" 2>&1
    local rc=$?
    sed 's/^/# /' "$T_DIR/out.$what"
    check_eq "$what: 4 engines in 4 threads on 128 KiB stacks: every result arrived ok" 0 "$rc"
    check_eq "$what: ThreadSanitizer reported nothing" "" "$(cat "$report".* 2>/dev/null | head -40)"
}

PROGRAM=$1
run_threads http "http://127.0.0.1:$TESTD_PORT"
run_threads https "https://127.0.0.1:$STUNNEL_PORT" "$CERTS/ca.pem"
finish
