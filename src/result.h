/*
 * result.h -- the error-class table: stable short names and whether a class is retried.
 * The names themselves live in result.c, the one place that spells them.
 */
#ifndef SALVO_RESULT_H
#define SALVO_RESULT_H

#include "salvo.h"

/* Looks up a class by its short name; returns SALVO_E_COUNT when unknown. */
salvo_err_t result_err_from_name(const char *name);

#endif
