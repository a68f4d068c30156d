/*
 * record.h -- the result of a completed request, as the completion callback receives it:
 * the outcome, the last attempt's phases and TLS facts, the status kept across attempts
 * and hops, attempts_log and the header fields asked for. Every pointer in it points into
 * the request, valid until the request is freed.
 */
#ifndef SALVO_RECORD_H
#define SALVO_RECORD_H

#include "request.h"
#include "salvo.h"

/* Fills res for r (completed: done_err and done_msg set). Returns the attempts_log array
 * to free after the callback, NULL when there is none. */
salvo_attempt_t *record_fill(const struct req *r, salvo_result_t *res);

#endif
