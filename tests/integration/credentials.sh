#!/usr/bin/env bash
# A password in a URL never reaches the output: url and final_url show it as ***, and no
# record, message, attempt log or diagnostic holds it, whether the request succeeds,
# fails or is redirected, from the arguments, an input file or the blocking baseline.
. "$(dirname "$0")/../lib.sh"
start_testd creds || exit 1
H="127.0.0.1:$TESTD_PORT"
refused=$(free_port)
pw=s3cr3t-pw # what must never appear
out=$T_DIR/out.jsonl
err=$T_DIR/err.txt
# Every byte as %XX: the password reaches the Location header without being readable in
# the URL that asks for the redirect.
hexenc() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../%&/g'; }
# final_url with a masked userinfo taken out: following a redirect may keep it (masked) or
# drop it, but never show the password.
unmasked() { sed -E 's#//[^/@:]+:\*\*\*@#//#'; }

urls=(
    "http://user:$pw@$H/size/10"                                      # ok
    "http://user:$pw@127.0.0.1:$refused/x"                            # connect_refused
    "http://user:$pw@$H/garbage"                                      # protocol
    "http://$H/redirect/302?to=$(hexenc "http://bob:$pw@$H/size/5")"  # to a URL with one
    "http://user:$pw@$H/redirect/302?to=%2Fsize%2F3"                  # from a URL with one
    "http://user@$H/size/1"                                           # a user, no password
)
"$SALVO" -L -c 6 --retry 1 --retry-backoff 0.01 --attempt-log --stats "${urls[@]}" \
    >"$out" 2>"$err"
rec() { jq -r "select(.index == $1) | $2" "$out"; }
check_eq "six records" 6 "$(wc -l <"$out")"
check_eq "url shows the password as ***" "http://user:***@$H/size/10 true" \
    "$(rec 0 '"\(.url) \(.ok)"')"
check_eq "... and so does final_url" "http://user:***@$H/size/10" "$(rec 0 .final_url)"
check_eq "a refused connection: url masked, the failure reported" \
    "http://user:***@127.0.0.1:$refused/x connect_refused 2" \
    "$(rec 1 '"\(.url) \(.error) \(.attempts)"')"
check_eq "a protocol error: url masked" "http://user:***@$H/garbage protocol" \
    "$(rec 2 '"\(.url) \(.error)"')"
check_eq "a redirect to a URL with a password: final_url without it" "http://$H/size/5 200" \
    "$(rec 3 '"\(.final_url) \(.status)"' | unmasked)"
check_eq "a redirect from a URL with a password: url masked" \
    "http://user:***@$H/redirect/302?to=%2Fsize%2F3 200" "$(rec 4 '"\(.url) \(.status)"')"
check_eq "... final_url without it" "http://$H/size/3" "$(rec 4 .final_url | unmasked)"
check_eq "a user without a password is left as it is" "http://user@$H/size/1 true" \
    "$(rec 5 '"\(.url) \(.ok)"')"
check_eq "the password appears nowhere in stdout or stderr" 0 "$(cat "$out" "$err" | grep -c "$pw")"

# From an input file, and from the blocking baseline.
printf 'http://user:%s@%s/size/2\nhttp://user:%s@127.0.0.1:%s/\n' "$pw" "$H" "$pw" "$refused" \
    >"$T_DIR/urls.txt"
"$SALVO" --retry 0 --attempt-log -i "$T_DIR/urls.txt" >"$out" 2>"$err"
check_eq "URLs from a file: masked" \
    "http://user:***@$H/size/2 http://user:***@127.0.0.1:$refused/" \
    "$(jq -rs 'sort_by(.index) | map(.url) | join(" ")' "$out")"
check_eq "... the password appears nowhere" 0 "$(cat "$out" "$err" | grep -c "$pw")"
"$SALVO" --blocking --retry 0 -L "${urls[@]}" >"$out" 2>"$err"
check_eq "--blocking: url masked" "http://user:***@$H/size/10" "$(rec 0 .url)"
check_eq "... the password appears nowhere" 0 "$(cat "$out" "$err" | grep -c "$pw")"

finish
