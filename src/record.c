/*
 * record.c -- the result of a completed request, as salvo_result_t gives it to the
 * caller. See record.h.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "result.h"

/* Milliseconds from a to b (microsecond stamps); 0 when b is not later. */
static double ms_between(uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) / 1000.0 : 0;
}

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
    const struct req_tls_facts *f = a->tls;
    if (f != NULL && f->have) {
        res->tls_version = f->version;
        res->tls_cipher = f->cipher;
        res->alpn = f->alpn[0] ? f->alpn : NULL;
    }
    if (f != NULL && f->have_cert) {
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

salvo_attempt_t *record_fill(const struct req *r, salvo_result_t *res)
{
    salvo_err_t err = r->done_err;
    const char *msg = r->done_msg;
    uint64_t now = r->t_done;
    memset(res, 0, sizeof *res);
    res->index = r->index;
    res->url = r->url_shown ? r->url_shown : r->url_buf;
    res->error = err;
    res->message = err == SALVO_E_OK ? NULL : (msg && *msg ? msg : salvo_err_name(err));
    res->attempts = r->attempts;
    res->queue_ms = r->t_slot ? (double)(r->t_slot - r->t_submit) / 1000.0 : -1;
    res->total_ms = r->t_slot ? (double)(now - r->t_slot) / 1000.0 : -1;
    res->start_ms = r->t_slot ? ms_between(r->eng->t_start, r->t_slot) : -1;
    res->dns_ms = res->connect_ms = res->tls_ms = res->ttfb_ms = res->transfer_ms = -1;
    res->reused = res->tls_resumed = -1;
    if (r->run != NULL)
        fill_run_facts(r->run, res);
    /* The last response's fields, when its head arrived. */
    if (r->keep_headers && r->run != NULL && r->run->http.status != 0)
        res->headers_len = http1_fields(&r->run->http, &res->headers);
    if (res->status == 0)
        res->status = r->last_status; /* an earlier attempt's or hop's, kept */
    res->ok = err == SALVO_E_OK && res->status > 0 && res->status < 400;
    if (r->eng->cfg.follow_redirects && r->url_err == SALVO_E_OK)
        res->final_url = r->final_url ? r->final_url : res->url;
    res->redirects = r->redirects;
    res->proxy = r->attempts > 0 && r->proxy != NULL ? r->proxy->shown : NULL;
    return fill_log(r, res);
}
