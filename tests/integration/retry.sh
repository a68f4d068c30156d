#!/usr/bin/env bash
# Retries: exponential backoff with full jitter, the retryable classes, the rule for
# non-idempotent methods, and no slot held while a request sleeps.
. "$(dirname "$0")/../lib.sh"
start_testd flaky || exit 1
U="http://127.0.0.1:$TESTD_PORT"
refused=$(free_port)

r=$("$SALVO" --retry 2 --retry-backoff 0.05 "$U/flaky-reset/k1/2")
check_eq "a server that resets twice then answers: 3 attempts, 200" "3 200 true" \
    "$(jq -r '"\(.attempts) \(.status) \(.ok)"' <<<"$r")"
r=$("$SALVO" --retry 1 --retry-backoff 0.05 "$U/flaky-reset/k2/2")
check_eq "with --retry 1 the second reset is final" "2 reset" \
    "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 0 "$U/flaky-reset/k3/1")
check_eq "--retry 0 makes one attempt" "1 reset" "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"

# Not retryable: an answer that is wrong stays wrong.
r=$("$SALVO" --retry 3 --retry-backoff 0.01 "$U/garbage")
check_eq "protocol errors are not retried" "1 protocol" "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 3 --retry-backoff 0.01 "http://127.0.0.1:$refused/")
check_eq "connect_refused is retried" "4 connect_refused" \
    "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"

# POST: retried when the failure came before sending, never after, unless asked.
r=$("$SALVO" --retry 2 --retry-backoff 0.01 -d x "$U/flaky-reset/k4/1")
check_eq "a POST is not retried after it was sent" "1 reset" \
    "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff 0.01 -d x --retry-non-idempotent "$U/flaky-reset/k5/1")
check_eq "--retry-non-idempotent retries it" "2 200" "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff 0.01 -d x "http://127.0.0.1:$refused/")
check_eq "a POST that never connected is retried" "3 connect_refused" \
    "$(jq -r '"\(.attempts) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 1 --retry-backoff 0.01 -X PUT -d x "$U/flaky-reset/k6/1")
check_eq "PUT is idempotent: retried after sending" "2 200" \
    "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"

# --retry-max-time: no attempt starts after it (a 2 s backoff base with 0.5 s max time).
start=$(now)
r=$("$SALVO" --retry 5 --retry-backoff 0.3 --retry-max-time 0.5 "http://127.0.0.1:$refused/")
el=$(since "$start")
check_le "--retry-max-time bounds the retries" "$el" 1.5
check "... after at least one attempt" test "$(jq -r .attempts <<<"$r")" -ge 1

# Backoff holds no slot: with -c 1, the second URL gets the slot as soon as the first
# URL's first attempt fails, not after its retries (which sleep up to 1 + 2 s).
"$SALVO" -c 1 --retry 2 --retry-backoff 1 "http://127.0.0.1:$refused/" "$U/" >"$T_DIR/o"
check_le "the second URL waited only for the first attempt, not the backoffs" \
    "$(jq -r 'select(.index == 1) | .queue_ms' "$T_DIR/o")" 50
check_eq "... and finished first" "1 0" "$(jq -r .index "$T_DIR/o" | tr '\n' ' ' | sed 's/ $//')"

# HTTP answers that say "later": 429, 502, 503, 504.
r=$("$SALVO" --retry 2 --retry-backoff 0.05 "$U/flaky/h1/2/503")
check_eq "503 twice then 200: 3 attempts, status 200" "3 200 true null" \
    "$(jq -r '"\(.attempts) \(.status) \(.ok) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 1 --retry-backoff 0.05 "$U/flaky/h2/5/502")
check_eq "retries used up: the last answer is final, error null" "2 502 false null" \
    "$(jq -r '"\(.attempts) \(.status) \(.ok) \(.error)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff 0.05 "$U/flaky/h3/1/500")
check_eq "500 is not retried" "1 500" "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff 0.05 -d x "$U/flaky/h4/1/503")
check_eq "a POST answered 503 is not retried" "1 503" "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"

# Retry-After replaces the backoff: seconds, and an HTTP-date.
r=$("$SALVO" --retry 2 --retry-backoff 0.01 --attempt-log "$U/retry-after/r1/1/1")
check_eq "Retry-After: 1 is honoured: 2 attempts, then 200" "2 200" \
    "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"
check_le "... the gap between the attempts was at least 1 s" 1000 \
    "$(jq -r '.attempts_log[0].backoff_ms' <<<"$r")"
check_le "... and the whole request took at least 1 s" 1000 "$(jq -r .total_ms <<<"$r")"
date=$(date -u -d '+2 seconds' '+%a, %d %b %Y %H:%M:%S GMT' | sed 's/ /%20/g; s/,/%2C/g')
r=$("$SALVO" --retry 2 --retry-backoff 0.01 --attempt-log "$U/retry-after/r2/1/$date")
check_eq "Retry-After as an HTTP-date is honoured" "2 200" \
    "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"
check_le "... waiting until about that date" 900 "$(jq -r '.attempts_log[0].backoff_ms' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff-max 2 "$U/retry-after/r3/1/60")
check_eq "Retry-After over --retry-backoff-max ends the retries with that answer" "1 503" \
    "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-max-time 0.5 "$U/retry-after/r4/1/1")
check_eq "Retry-After past --retry-max-time ends the retries too" "1 503" \
    "$(jq -r '"\(.attempts) \(.status)"' <<<"$r")"

# A request that rides a pooled connection which the server then resets: salvo replays it
# silently on a new connection (no attempt counted), but only when replaying is safe. A
# POST that was sent may have been acted on: never sent twice without
# --retry-non-idempotent. The server's own request count says how often it arrived.
requests() { curl -s "$U/__stats" | jq .requests; } # counts itself: subtract 1
before=$(requests)
"$SALVO" -c 1 --retry 0 -X POST -d x "$U/" "$U/flaky-reset/post1/1" >"$T_DIR/o"
lost='.error // "null" | sub("^empty_reply$"; "reset")' # either says the answer was lost
check_eq "a POST on a pooled connection reset by the server is not replayed" "1 reset" \
    "$(jq -r "select(.index == 1) | \"\\(.attempts) \\($lost)\"" "$T_DIR/o")"
check_eq "... the server saw two requests, not three" 2 $(($(requests) - before - 1))
check_eq "... and the POST was the one on the pooled connection" true \
    "$(jq -r 'select(.index == 1) | .reused' "$T_DIR/o")"
"$SALVO" -c 1 --retry 0 --retry-non-idempotent -X POST -d x "$U/" "$U/flaky-reset/post2/1" \
    >"$T_DIR/o"
check_eq "with --retry-non-idempotent the POST is replayed" "1 200 null" \
    "$(jq -r 'select(.index == 1) | "\(.attempts) \(.status) \(.error)"' "$T_DIR/o")"
before=$(requests)
"$SALVO" -c 1 --retry 0 "$U/" "$U/flaky-reset/get1/1" >"$T_DIR/o"
check_eq "a GET in the same place is replayed silently: one attempt, 200" "1 200 null" \
    "$(jq -r 'select(.index == 1) | "\(.attempts) \(.status) \(.error)"' "$T_DIR/o")"
check_eq "... the server saw the GET twice" 3 $(($(requests) - before - 1))

# A Retry-After too large for any number type still ends the retries at once (it is longer
# than --retry-backoff-max), rather than wrapping around to a short wait or to the backoff.
start=$(now)
r=$("$SALVO" --retry 3 --retry-backoff 5 "$U/retry-after/huge/5/12345678901234567890123456")
el=$(since "$start")
check_eq "Retry-After with 26 digits: that 503 is final, one attempt" "503 null 1" \
    "$(jq -r '"\(.status) \(.error) \(.attempts)"' <<<"$r")"
check_le "... at once, not after a backoff of 5 s ($el s)" "$el" 4

# status is the last final answer whose headers arrived, in any attempt: a 503, then an
# attempt reset before any answer, keeps the 503 and reports the reset.
r=$("$SALVO" --retry 1 --retry-backoff 0 "$U/seq/keep503/503,reset")
check_eq "503 then a reset: status 503, error reset, 2 attempts" "503 reset 2 false" \
    "$(jq -r '"\(.status) \(.error) \(.attempts) \(.ok)"' <<<"$r")"
r=$("$SALVO" --retry 2 --retry-backoff 0 "$U/seq/keep503b/503,close")
check_eq "503 then a close before any answer, twice: status 503, error empty_reply, 3 attempts" \
    "503 empty_reply 3" "$(jq -r '"\(.status) \(.error) \(.attempts)"' <<<"$r")"

# --attempt-log: retries never hide a failure.
r=$("$SALVO" --retry 2 --retry-backoff 0.01 --attempt-log "$U/flaky-reset/al/1")
check_eq "--attempt-log shows the failed attempt and the good one" "reset null" \
    "$(jq -r '[.attempts_log[].error] | map(tostring) | join(" ")' <<<"$r")"
check_eq "... with their statuses and addresses" "null 200 127.0.0.1" \
    "$(jq -r '"\(.attempts_log[0].status) \(.attempts_log[1].status) \(.attempts_log[1].remote_ip)"' <<<"$r")"
check_eq "without --attempt-log the field is null" null \
    "$("$SALVO" "$U/" | jq -r .attempts_log)"

finish
