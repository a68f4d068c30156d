#!/usr/bin/env bash
# Runs every test of salvo against the build in $1 (build/ or build-san/) and ends with
# the line "N passed, N failed". Each test program speaks TAP ("ok N - name",
# "not ok N - name"): cmocka unit tests (CMOCKA_MESSAGE_OUTPUT=TAP), the API programs
# and the integration scripts in tests/integration/. A program that exits non-zero
# without reporting a failing case counts as one failed case, so a crash is never lost.
set -u
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
B=$(cd "$root" && cd "$B" && pwd) || { echo "no build dir $1"; exit 2; }
export SALVO_BUILD=$B SALVO_ROOT=$root CMOCKA_MESSAGE_OUTPUT=TAP
# The servers the tests start (dnsmasq, nginx) live in sbin, which a plain user's PATH
# (or a minimal one such as /usr/bin:/bin) may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
only=${TESTS:-}   # optional filter: a substring of the program's name

passed=0 failed=0
failures=()
logdir=$(mktemp -d "${TMPDIR:-/tmp}/salvo-tests.XXXXXX")

run_one() {
    local name=$1; shift
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && return
    local log="$logdir/$(echo "$name" | tr '/' '_').log"
    local start=$SECONDS
    # Every test program is bounded: 240 s at most, then it is killed.
    timeout -k 5 240 "$@" >"$log" 2>&1
    local rc=$?
    local p f
    p=$(grep -cE '^ok [0-9]+' "$log")
    f=$(grep -cE '^not ok [0-9]+' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$log"
    fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-40s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -gt 0 ]; then
        failures+=("$name")
        grep -E '^not ok|^# ' "$log" | head -40 | sed 's/^/    /'
        echo "    (full log: $log)"
    fi
}

for t in "$B"/tests/test_*; do [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"; done
for t in "$B"/tests/api_*; do [ -x "$t" ] && run_one "api/$(basename "$t")" "$t"; done
for t in "$root"/tests/integration/*.sh; do
    [ -f "$t" ] && run_one "integration/$(basename "$t" .sh)" bash "$t"
done

[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
