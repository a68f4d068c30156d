#!/usr/bin/env bash
# Redirects with -L: method and body rules, relative and absolute Location, credentials
# and a -H Host dropped for another origin, the limit, missing, repeated, raw-byte and bad
# Locations.
. "$(dirname "$0")/../lib.sh"
start_testd redir || exit 1
U="http://127.0.0.1:$TESTD_PORT"
P=$TESTD_PORT
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
ver=$("$SALVO" --version | cut -d' ' -f2)
sha() { printf "$@" | sha256sum | cut -d' ' -f1; }

r=$("$SALVO" "$U/redirect/302?to=$(enc /size/10)")
check_eq "without -L the 3xx is the final response" "302 true null 0" \
    "$(jq -r '"\(.status) \(.ok) \(.final_url) \(.redirects)"' <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302?to=$(enc /size/10)")
check_eq "-L follows a relative Location" "200 10 $U/size/10 1" \
    "$(jq -r '"\(.status) \(.bytes) \(.final_url) \(.redirects)"' <<<"$r")"
r=$("$SALVO" -L "$U/redirect/301?to=$(enc "http://localhost:$P/size/20")")
check_eq "-L follows an absolute Location to another host" "200 20 http://localhost:$P/size/20" \
    "$(jq -r '"\(.status) \(.bytes) \(.final_url)"' <<<"$r")"
r=$("$SALVO" -L "$U/size/5")
check_eq "with -L and no redirect, final_url is the URL" "$U/size/5 0" \
    "$(jq -r '"\(.final_url) \(.redirects)"' <<<"$r")"

# Method rules: 301/302/303 turn POST into GET without a body; 307/308 keep both.
for code in 301 302 303; do
    r=$("$SALVO" -L --hash -d 'a=1' "$U/redirect/$code?to=$(enc /echo)")
    check_eq "$code turns POST into GET without a body" \
        "$(sha 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n' "$P" "$ver")" \
        "$(jq -r .sha256 <<<"$r")"
done
for code in 307 308; do
    r=$("$SALVO" -L --hash -d 'a=1' "$U/redirect/$code?to=$(enc /echo)")
    check_eq "$code keeps POST and its body" \
        "$(sha 'POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 3\r\n\r\na=1' "$P" "$ver")" \
        "$(jq -r .sha256 <<<"$r")"
done
r=$("$SALVO" -L --hash -X PUT -d 'a=1' "$U/redirect/303?to=$(enc /echo)")
check_eq "303 turns PUT into GET too" \
    "$(sha 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n' "$P" "$ver")" \
    "$(jq -r .sha256 <<<"$r")"

# Credentials stay with their host.
hdrs=(-H 'Authorization: Bearer secret' -H 'Cookie: id=1' -H 'X-Keep: yes')
r=$("$SALVO" -L --hash "${hdrs[@]}" "$U/redirect/302?to=$(enc "http://localhost:$P/echo")")
check_eq "a redirect to another host drops Authorization and Cookie" \
    "$(sha 'GET /echo HTTP/1.1\r\nHost: localhost:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nX-Keep: yes\r\n\r\n' "$P" "$ver")" \
    "$(jq -r .sha256 <<<"$r")"
r=$("$SALVO" -L --hash "${hdrs[@]}" "$U/redirect/302?to=$(enc /echo)")
check_eq "... and a redirect to the same host keeps them" \
    "$(sha 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nAuthorization: Bearer secret\r\nCookie: id=1\r\nX-Keep: yes\r\n\r\n' "$P" "$ver")" \
    "$(jq -r .sha256 <<<"$r")"

start_testd other || exit 1
O=$TESTD_PORT
r=$("$SALVO" -L --hash "${hdrs[@]}" "$U/redirect/302?to=$(enc "http://127.0.0.1:$O/echo")")
check_eq "... and so does a redirect to another port of the same host" \
    "$(sha 'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nX-Keep: yes\r\n\r\n' "$O" "$ver")" \
    "$(jq -r .sha256 <<<"$r")"

# A Host given with -H belongs to the origin it was given for: a hop to another origin
# (another port, another name) sends that origin's own Host; a hop within the origin
# keeps it. /header/Host answers with every Host the request carried, one per line.
host_sha() { printf '%s\n' "$1" | sha256sum | cut -d' ' -f1; }
custom=(-L --hash -H 'Host: custom.test')
r=$("$SALVO" "${custom[@]}" "$U/redirect/302?to=$(enc "http://127.0.0.1:$O/header/Host")")
check_eq "-H Host, redirect to another port: the new origin's own Host, once" \
    "200 $(host_sha "127.0.0.1:$O")" "$(jq -r '"\(.status) \(.sha256)"' <<<"$r")"
r=$("$SALVO" "${custom[@]}" "$U/redirect/302?to=$(enc "http://localhost:$P/header/Host")")
check_eq "-H Host, redirect to another name on the same port: that name's Host" \
    "200 $(host_sha "localhost:$P")" "$(jq -r '"\(.status) \(.sha256)"' <<<"$r")"
r=$("$SALVO" "${custom[@]}" "$U/redirect/302?to=$(enc /header/Host)")
check_eq "-H Host, redirect within the origin: the Host given is kept" \
    "200 $(host_sha custom.test)" "$(jq -r '"\(.status) \(.sha256)"' <<<"$r")"

# A failed hop reports its own facts, not the previous hop's body.
refused=$(free_port)
r=$("$SALVO" -L --hash --retry 0 "$U/redirect/302?to=$(enc "http://127.0.0.1:$refused/x")")
check_eq "a redirect to a refused port: its record has no body from the 302" \
    "connect_refused 0 0 null" "$(jq -r '"\(.error) \(.bytes) \(.wire_bytes) \(.sha256)"' <<<"$r")"

# The limit and bad Locations.
loop="$U/redirect/302?to=$(enc "/redirect/302?to=$(enc /redirect/302?to=/)")"
r=$("$SALVO" -L --max-redirs 1 "$loop")
check_eq "more than --max-redirs is redirect_limit" "redirect_limit 302 1" \
    "$(jq -r '"\(.error) \(.status) \(.redirects)"' <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302")
check_eq "a 3xx without Location is a final response, not an error" "null 302 0 true" \
    "$(jq -r '"\(.error) \(.status) \(.redirects) \(.ok)"' <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302?to=$(enc /size/10)&to=$(enc /size/20)")
check_eq "two different Locations are bad_redirect" "bad_redirect 302 0" \
    "$(jq -r '"\(.error) \(.status) \(.redirects)"' <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302?to=$(enc /size/10)&to=$(enc /size/10)")
check_eq "two identical Locations are one: followed" "null 200 10 1 $U/size/10" \
    "$(jq -r '"\(.error) \(.status) \(.bytes) \(.redirects) \(.final_url)"' <<<"$r")"
# A Location with raw bytes over 0x7f (UTF-8 "café", as some servers send it) is followed
# with those bytes percent-encoded, in final_url and on the wire (/echo shows the target).
r=$("$SALVO" -L --hash "$U/redirect/302?to=$(enc $'/echo?caf\xc3\xa9')")
check_eq "a Location with raw UTF-8 is followed, percent-encoded" "null 200 $U/echo?caf%C3%A9" \
    "$(jq -r '"\(.error) \(.status) \(.final_url)"' <<<"$r")"
check_eq "... and the server saw the encoded target" \
    "$(sha 'GET /echo?caf%%C3%%A9 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nUser-Agent: salvo/%s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n\r\n' "$P" "$ver")" \
    "$(jq -r .sha256 <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302?to=$(enc 'ftp://example.test/x')")
check_eq "a non-http(s) Location is bad_redirect" "bad_redirect" "$(jq -r .error <<<"$r")"
r=$("$SALVO" -L "$U/redirect/302?to=$(enc 'http://[bad')")
check_eq "a malformed Location is bad_redirect" "bad_redirect" "$(jq -r .error <<<"$r")"

finish
