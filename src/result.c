/*
 * result.c -- the error-class table: the stable short names of the error classes
 * (docs/CONTRACT.md) and which classes may be retried. This is the one place that spells the
 * names; every output format and the library's users get them from here. Pure data, no
 * state: safe from any thread.
 */
#include "result.h"

#include <string.h>

struct err_class {
    const char *name; /* the stable short name */
    int retryable;    /* may be retried (the contract's column "retried") */
};

/* Indexed by enum salvo_err; designated initializers keep names and values paired even
 * if someone reorders a line. */
static const struct err_class classes[] = {
    [SALVO_E_OK] = {"ok", 0},
    [SALVO_E_BAD_URL] = {"bad_url", 0},
    [SALVO_E_UNSUPPORTED_SCHEME] = {"unsupported_scheme", 0},
    [SALVO_E_DNS] = {"dns", 0},
    [SALVO_E_DNS_TIMEOUT] = {"dns_timeout", 1},
    [SALVO_E_CONNECT_REFUSED] = {"connect_refused", 1},
    [SALVO_E_CONNECT_TIMEOUT] = {"connect_timeout", 1},
    [SALVO_E_CONNECT_ERROR] = {"connect_error", 1},
    [SALVO_E_TLS_HANDSHAKE] = {"tls_handshake", 0},
    [SALVO_E_TLS_VERIFY] = {"tls_verify", 0},
    [SALVO_E_TLS_TIMEOUT] = {"tls_timeout", 1},
    [SALVO_E_TIMEOUT] = {"timeout", 1},
    [SALVO_E_RESET] = {"reset", 1},
    [SALVO_E_EMPTY_REPLY] = {"empty_reply", 1},
    [SALVO_E_PARTIAL] = {"partial", 1},
    [SALVO_E_PROTOCOL] = {"protocol", 0},
    [SALVO_E_TOO_LARGE] = {"too_large", 0},
    [SALVO_E_DECODE] = {"decode", 0},
    [SALVO_E_REDIRECT_LIMIT] = {"redirect_limit", 0},
    [SALVO_E_BAD_REDIRECT] = {"bad_redirect", 0},
    [SALVO_E_RESOURCE] = {"resource", 1},
    [SALVO_E_CANCELLED] = {"cancelled", 0},
    [SALVO_E_ABORTED] = {"aborted", 0},
    [SALVO_E_BAD_INPUT] = {"bad_input", 0},
    [SALVO_E_PROXY] = {"proxy", 1}, /* not when the proxy answered 4xx (request.c) */
};

_Static_assert(sizeof(classes) / sizeof(classes[0]) == SALVO_E_COUNT,
               "every error class needs a name");

SALVO_API const char *salvo_err_name(salvo_err_t err)
{
    /* The enum may be unsigned or signed; compare as unsigned to catch both ends. */
    if ((unsigned)err >= SALVO_E_COUNT || classes[err].name == NULL)
        return "?";
    return classes[err].name;
}

SALVO_API int salvo_err_retryable(salvo_err_t err)
{
    if ((unsigned)err >= SALVO_E_COUNT)
        return 0;
    return classes[err].retryable;
}

salvo_err_t result_err_from_name(const char *name)
{
    unsigned i;

    if (name == NULL)
        return SALVO_E_COUNT;
    for (i = 0; i < SALVO_E_COUNT; i++) {
        if (classes[i].name != NULL && strcmp(classes[i].name, name) == 0)
            return (salvo_err_t)i;
    }
    return SALVO_E_COUNT;
}
