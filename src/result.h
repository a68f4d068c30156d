/*
 * result.h -- helpers around salvo_result_t and the error-class table.
 * The names themselves live in result.c, the one place that spells them.
 */
#ifndef SALVO_RESULT_H
#define SALVO_RESULT_H

#include "salvo.h"

/* Looks up a class by its short name; returns SALVO_E_COUNT when unknown. */
salvo_err_t result_err_from_name(const char *name);

struct req;

/* Builds the result of a finished request: every pointer in it points into r, valid
 * until r is freed. Returns the attempts_log array to free after the callback (NULL
 * when there is none). */
salvo_attempt_t *result_fill(const struct req *r, salvo_result_t *res, salvo_err_t err,
                             const char *msg);

#endif
