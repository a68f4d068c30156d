/*
 * retry.h -- the retry policy of CONTRACT.md as pure functions: which outcomes are
 * worth another attempt, how long to sleep first, and what a Retry-After header asks.
 * No state and no I/O, so every rule can be unit-tested alone.
 */
#ifndef SALVO_RETRY_H
#define SALVO_RETRY_H

#include <stdint.h>
#include <time.h>

#include "salvo.h"

/* HTTP answers that say "try again later": 429, 502, 503, 504. */
int retry_status_retryable(int status);

/* Methods that may be repeated after they were sent (RFC 9110, 9.2.2, and OPTIONS). */
int retry_method_idempotent(const char *method);

/* Full jitter: a uniform draw in [0, min(cap, base * 2^(attempt-1))] milliseconds, from
 * the random value `rnd`. attempt counts from 1 (the attempt that just failed). */
uint64_t retry_backoff_ms(double base_s, double cap_s, int attempt, uint64_t rnd);

/* Parses a Retry-After value: delay-seconds or an HTTP-date (RFC 9110, 10.2.3), relative
 * to `now`. Returns 0 with *secs set (a date in the past gives 0, a number too large to
 * represent HUGE_VAL), or -1 when the value is neither. */
int retry_after_parse(const char *value, time_t now, double *secs);

#endif
