#!/usr/bin/env bash
# -A (User-Agent) and -u (HTTP Basic): what the server receives, what -H overrides, the
# credentials dropped when a redirect leaves the origin, and the password nowhere in
# salvo's output (records, trace, messages, stats) nor in its visible command line.
. "$(dirname "$0")/../lib.sh"
start_testd auth || exit 1
H="127.0.0.1:$TESTD_PORT"
start_testd other --listen 127.0.0.2:0 || exit 1
O="127.0.0.2:$TESTD_PORT"
refused=$(free_port)
out=$T_DIR/out.jsonl
# body ARGS...: the body of the one record salvo prints.
body() { "$SALVO" --retry 0 --body 1000 "$@" | jq -r .body; }
version=$("$SALVO" --version | awk '{print $2}')

# --- -A ----------------------------------------------------------------------------------
check_eq "User-Agent by default: salvo/VERSION" "salvo/$version" \
    "$(body "http://$H/header/user-agent")"
check_eq "-A sets it" "probe/2.0 (ops)" "$(body -A 'probe/2.0 (ops)' "http://$H/header/user-agent")"
check_eq "--user-agent too" "x" "$(body --user-agent x "http://$H/header/user-agent")"
check_eq "-H User-Agent wins over -A, and only one is sent" "from-H" \
    "$(body -A from-A -H 'User-Agent: from-H' "http://$H/header/user-agent")"
check_eq "--blocking sends it as well" "blk/1" \
    "$(body --blocking -A blk/1 "http://$H/header/user-agent")"
"$SALVO" -A "$(printf 'bad\r\nX-Injected: 1')" "http://$H/" >/dev/null 2>"$T_DIR/err"
check_eq "-A with a line break: exit 2" 2 $?
check_eq "... with a message" 1 "$(grep -c -- '-A' "$T_DIR/err")"

# --- -u ----------------------------------------------------------------------------------
pw='s3cr3t:pa ss' # a colon and a space: only the first colon splits
b64=$(printf '%s' "alice:$pw" | base64 -w0)
check_eq "-u: Authorization: Basic base64(USER:PASSWORD)" "Basic $b64" \
    "$(body -u "alice:$pw" "http://$H/header/authorization")"
check_eq "--user too, an empty password allowed" "Basic $(printf 'bob:' | base64 -w0)" \
    "$(body --user bob: "http://$H/header/authorization")"
check_eq "-H Authorization wins over -u" "Bearer t" \
    "$(body -u "alice:$pw" -H 'Authorization: Bearer t' "http://$H/header/authorization")"
check_eq "kept on a redirect within the origin" "Basic $b64" \
    "$(body -L -u "alice:$pw" "http://$H/redirect/302?to=%2Fheader%2Fauthorization")"
r=$("$SALVO" --retry 0 --body 1000 -L -u "alice:$pw" \
    "http://$H/redirect/302?to=http%3A%2F%2F$O%2Fheader%2Fauthorization")
check_eq "dropped on a redirect to another origin" "200 \"\"" \
    "$(jq -r '"\(.status) \(.body | tojson)"' <<<"$r")"
check_eq "--blocking sends it" "Basic $b64" \
    "$(body --blocking -u "alice:$pw" "http://$H/header/authorization")"

"$SALVO" -u alice "http://$H/" >/dev/null 2>"$T_DIR/err"
check_eq "-u without a colon: exit 2 (no prompt)" 2 $?
check_eq "... saying a password is needed" 1 "$(grep -c 'USER:PASSWORD' "$T_DIR/err")"

# Nowhere in the output: records with every optional field, the trace, the stats, the
# messages of failures, the blocking baseline.
urls=("http://$H/size/10" "http://127.0.0.1:$refused/" "http://$H/garbage"
    "http://$H/redirect/302?to=http%3A%2F%2F$O%2Fsize%2F3" "http://$H/status/401")
"$SALVO" -L -c 5 --retry 1 --retry-backoff 0.01 -u "alice:$pw" --attempt-log --headers \
    --stats --trace "$T_DIR/trace" "${urls[@]}" >"$out" 2>"$T_DIR/err"
check_eq "five records" 5 "$(wc -l <"$out")"
check_eq "the password is nowhere in records, trace or stderr" 0 \
    "$(cat "$out" "$T_DIR/err" "$T_DIR/trace" | grep -cF -e "$pw" -e "$b64")"
"$SALVO" --blocking -L --retry 0 -u "alice:$pw" --format csv "${urls[@]}" >"$out" 2>"$T_DIR/err"
check_eq "... nor in --blocking's (csv)" 0 "$(cat "$out" "$T_DIR/err" | grep -cF -e "$pw" -e "$b64")"

# Nor in the command line others can read while salvo runs.
"$SALVO" -m 3 --retry 0 -u "alice:$pw" "http://$H/stall" >/dev/null 2>&1 &
pid=$!
T_PIDS+=("$pid")
cmdline=""
for _ in $(seq 1 40); do
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    [[ "$cmdline" == *'alice:*'* ]] && break # once the options are read
    sleep 0.05
done
check_eq "the running salvo's command line shows the user, not the password" "1 0" \
    "$(grep -c 'alice:\*' <<<"$cmdline") $(grep -cF "$pw" <<<"$cmdline")"
kill "$pid" 2>/dev/null

finish
