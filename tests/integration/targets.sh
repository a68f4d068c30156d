#!/usr/bin/env bash
# Input lines as JSON: one request per line with its own method, headers, body, name and
# checks (a monitoring config is a JSON Lines file). Malformed lines get a bad_input
# record and the run goes on.
. "$(dirname "$0")/../lib.sh"
start_testd targets || exit 1
U="http://127.0.0.1:$TESTD_PORT"
cfg="$T_DIR/cfg.jsonl"
cat >"$cfg" <<JSON
{"url":"$U/","name":"home"}
{"url":"$U/status/503","name":"maintenance","expect_status":503}
{"url":"$U/echo","method":"PUT","body":"hello","headers":{"X-From":"line"},"expect_body":"^X-From: line"}
{"url":"$U/echo","body":"x","headers":["X-From: array"],"expect_header":["content-type: ^text/"]}
{"url":"$U/status/404","expect_status":"200,404"}
{"url":"$U/","max_latency":"0.00001"}
{"url":"$U/status/200","min_cert_days":30,"unknown_key":{"ignored":[1,2]}}
{"nope":1}
{"url":"$U/","expect_status":"2x"}
{"url":"$U/","method":"GE T"}
{"url":"$U/","headers":{"Content-Length":"3"}}
{"url": 42}
{"url":"$U/" 
$U/size/10
JSON
out="$T_DIR/out.jsonl"
"$SALVO" --retry 0 -H 'X-From: flag' -i "$cfg" >"$out"
sel() { jq -c "select(.index == $1) | $2" "$out"; }
check_eq "one record per line" 14 "$(wc -l <"$out")"
check_eq "name is echoed" '"home"' "$(sel 0 .name)"
check_eq "a line's expect_status (a number) overrides the default" '{"status":503,"ok":true,"name":"maintenance"}' \
    "$(sel 1 '{status,ok,name}')"
check_eq "method, body and a headers object: the line wins over -H on the same name" \
    '{"ok":true,"checks_failed":[]}' "$(sel 2 '{ok,checks_failed}')"
# The echo body holds the request as sent: PUT, the line's header, not the flag's.
body=$("$SALVO" --body 400 -H 'X-From: flag' -i <(head -3 "$cfg" | tail -1) | jq -r .body)
check_eq "... the request went out as the line says" "PUT 1 0" \
    "$(head -1 <<<"$body" | cut -d' ' -f1) $(grep -c '^X-From: line' <<<"$body") $(grep -c '^X-From: flag' <<<"$body")"
check_eq "a body implies POST; a headers array; expect_header" '{"ok":true}' "$(sel 3 '{ok}')"
body=$("$SALVO" --body 400 -i <(head -4 "$cfg" | tail -1) | jq -r .body)
check_eq "... POST with the array's header" "POST 1" \
    "$(head -1 <<<"$body" | cut -d' ' -f1) $(grep -c '^X-From: array' <<<"$body")"
check_eq "expect_status as a list" '{"status":404,"ok":true}' "$(sel 4 '{status,ok}')"
check_eq "max_latency from a line" '["latency"]' "$(sel 5 .checks_failed)"
check_eq "plain HTTP passes min_cert_days; unknown keys are ignored" '{"ok":true}' "$(sel 6 '{ok}')"
for i in 7 8 9 10 11 12; do
    check_eq "line $i: bad_input with the line as url, the run goes on" \
        '{"error":"bad_input","ok":false,"attempts":0}' "$(sel $i '{error,ok,attempts}')"
done
check_eq "... its message says why" "1" "$(sel 8 .message | grep -c expect_status)"
check_eq "a plain URL line among JSON lines" '{"status":200,"bytes":10}' "$(sel 13 '{status,bytes}')"
"$SALVO" --retry 0 -i "$cfg" >/dev/null
check_eq "bad lines make the exit status 1, not 2" 1 "$?"
finish
