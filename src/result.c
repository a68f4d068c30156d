/*
 * result.c -- the error-class table: the stable short names of CONTRACT.md ("Error
 * classes") and which classes may be retried. This is the one place that spells the
 * names; every output format and the library's users get them from here. Pure data, no
 * state: safe from any thread.
 */
#include "result.h"

#include "engine.h"

#include <stdlib.h>

#include <string.h>

struct err_class {
    const char *name; /* the stable short name */
    int retryable;    /* may be retried (CONTRACT.md, column "retried") */
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

/* ---- the record of a finished request -------------------------------------------- */

/* The run-time half of the record: phases, bytes, TLS facts. Left at "does not
 * apply" (the caller's defaults) for a request that never ran. */
static void fill_run_facts(const struct req_run *x, salvo_result_t *res)
{
    const struct req_attempt *a = &x->a;
    res->status = a->status;
    res->remote_ip = a->remote_ip[0] ? a->remote_ip : NULL;
    res->bytes = x->http.bytes;
    res->wire_bytes = x->http.wire_bytes;
    res->dns_ms = a->dns_ms;
    res->connect_ms = a->connect_ms;
    res->tls_ms = a->tls_ms;
    res->ttfb_ms = a->ttfb_ms;
    res->transfer_ms = a->transfer_ms;
    res->reused = a->remote_ip[0] ? a->reused : -1;
    res->tls_resumed = a->tls_resumed;
    const struct req_tls_facts *f = &a->tls;
    if (f->have) {
        res->tls_version = f->version;
        res->tls_cipher = f->cipher;
        res->alpn = f->alpn[0] ? f->alpn : NULL;
    }
    if (f->have_cert) {
        res->cert_expiry = f->cert_expiry;
        res->chain_expiry = f->chain_expiry[0] ? f->chain_expiry : NULL;
        res->cert_days_left = f->days_left;
        res->cert_subject = f->subject[0] ? f->subject : NULL;
        res->cert_issuer = f->issuer[0] ? f->issuer : NULL;
    }
    res->sha256 = x->sha256[0] ? x->sha256 : NULL;
}

/* attempts_log as the public type wants it: one contiguous array. */
static salvo_attempt_t *fill_log(const struct req *r, salvo_result_t *res)
{
    if (!r->eng->cfg.attempt_log)
        return NULL;
    salvo_attempt_t *log = calloc(r->log_len ? r->log_len : 1, sizeof *log);
    if (log == NULL)
        return NULL; /* the record says null rather than lose the result */
    for (size_t i = 0; i < r->log_len; i++) {
        log[i] = r->log[i].a;
        log[i].remote_ip = r->log[i].ip[0] ? r->log[i].ip : NULL;
    }
    res->attempts_log = log;
    res->attempts_log_len = r->log_len;
    return log;
}

salvo_attempt_t *result_fill(const struct req *r, salvo_result_t *res, salvo_err_t err,
                             const char *msg)
{
    uint64_t now = loop_now_us();
    memset(res, 0, sizeof *res);
    res->index = r->index;
    res->url = r->url_shown ? r->url_shown : r->url_str;
    res->error = err;
    res->message = err == SALVO_E_OK ? NULL : (msg && *msg ? msg : salvo_err_name(err));
    res->attempts = r->attempts;
    res->queue_ms = r->t_slot ? (double)(r->t_slot - r->t_submit) / 1000.0 : -1;
    res->total_ms = r->t_slot ? (double)(now - r->t_slot) / 1000.0 : -1;
    res->dns_ms = res->connect_ms = res->tls_ms = res->ttfb_ms = res->transfer_ms = -1;
    res->reused = res->tls_resumed = -1;
    if (r->run != NULL)
        fill_run_facts(r->run, res);
    if (res->status == 0)
        res->status = r->last_status; /* an earlier attempt's or hop's, kept */
    res->ok = err == SALVO_E_OK && res->status > 0 && res->status < 400;
    if (r->eng->cfg.follow_redirects && r->url_err == SALVO_E_OK)
        res->final_url = r->final_url ? r->final_url : res->url;
    res->redirects = r->redirects;
    return fill_log(r, res);
}
