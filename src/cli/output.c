/*
 * output.c -- the JSON Lines writer (CONTRACT.md, "Records").
 *
 * A record is written field by field, in the contract's order, straight to the FILE*:
 * no intermediate buffer, so a record with a 64 KiB URL costs no allocation. Number
 * formatting avoids printf's "%f", whose decimal point follows the locale: durations are
 * printed from integer microseconds, so a comma can never slip into a number.
 *
 * Strings are made valid UTF-8 here, whatever bytes a URL, a server's reason or a
 * certificate subject carried: each ill-formed sequence becomes one U+FFFD, using the
 * "maximal subpart" rule of the Unicode standard (section 3.9, as the WHATWG decoder
 * does), so that a truncated sequence costs one replacement, not one per byte.
 *
 * No state: re-entrant; concurrent writers to one FILE* rely on stdio's own locking.
 */
#include "output.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

/* The Unicode replacement character, U+FFFD, in UTF-8. */
#define REPLACEMENT "\xef\xbf\xbd"

/* Durations past this (about 31 years, in ms) are not plausible and would overflow the
 * microsecond integer: they are written as null. */
#define MS_PLAUSIBLE_MAX 1e12

/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when it is ill-formed;
 * then *bad is how many bytes the one U+FFFD replaces (at least 1). Table 3-7 of the
 * Unicode standard: no overlongs, no surrogates, nothing past U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *s, size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80; /* overlong */
        hi = s[0] == 0xed ? 0x9f : 0xbf; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80; /* overlong */
        hi = s[0] == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF */
    } else {
        *bad = 1; /* a stray continuation byte, C0, C1 or F5..FF */
        return 0;
    }
    /* The NUL terminator fails every range test, so the scan stops at the end. */
    for (i = 1; i < n; i++) {
        unsigned char c = s[i];
        if (c < (i == 1 ? lo : 0x80) || c > (i == 1 ? hi : 0xbf)) {
            *bad = i;
            return 0;
        }
    }
    return n;
}

/* Writes one ASCII byte, escaped as JSON requires (and DEL too, for terminals). */
static void put_ascii(FILE *fp, unsigned char c)
{
    switch (c) {
    case '"':
        fputs("\\\"", fp);
        break;
    case '\\':
        fputs("\\\\", fp);
        break;
    case '\b':
        fputs("\\b", fp);
        break;
    case '\f':
        fputs("\\f", fp);
        break;
    case '\n':
        fputs("\\n", fp);
        break;
    case '\r':
        fputs("\\r", fp);
        break;
    case '\t':
        fputs("\\t", fp);
        break;
    default:
        if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
}

void output_json_string(FILE *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, bad;

    if (s == NULL) {
        fputs("null", fp);
        return;
    }
    fputc('"', fp);
    while (*p != '\0') {
        n = utf8_seq(p, &bad);
        if (n == 1) {
            put_ascii(fp, *p);
        } else if (n > 1) {
            fwrite(p, 1, n, fp);
        } else {
            fputs(REPLACEMENT, fp);
            n = bad;
        }
        p += n;
    }
    fputc('"', fp);
}

/* Starts a field: the separator, then the key. Keys are plain ASCII constants. */
static void key(FILE *fp, const char *name)
{
    fprintf(fp, ",\"%s\":", name);
}

static void put_str(FILE *fp, const char *name, const char *s)
{
    key(fp, name);
    output_json_string(fp, s);
}

/* A duration in ms with 3 decimals, or null when negative (does not apply) or absurd. */
static void put_ms(FILE *fp, const char *name, double ms)
{
    uint64_t us;

    key(fp, name);
    if (!(ms >= 0 && ms < MS_PLAUSIBLE_MAX)) { /* also catches NaN */
        fputs("null", fp);
        return;
    }
    us = (uint64_t)(ms * 1000.0 + 0.5);
    fprintf(fp, "%" PRIu64 ".%03u", us / 1000, (unsigned)(us % 1000));
}

/* A tri-state: -1 is null, 0 false, anything else true. */
static void put_bool3(FILE *fp, const char *name, int v)
{
    key(fp, name);
    fputs(v < 0 ? "null" : v ? "true" : "false", fp);
}

/* An HTTP status, null when none arrived. */
static void put_status(FILE *fp, const char *name, int status)
{
    key(fp, name);
    if (status == 0)
        fputs("null", fp);
    else
        fprintf(fp, "%d", status);
}

static void put_error(FILE *fp, const char *name, salvo_err_t err)
{
    put_str(fp, name, err == SALVO_E_OK ? NULL : salvo_err_name(err));
}

static void put_attempt(FILE *fp, const salvo_attempt_t *a)
{
    /* The object's first field has no separator; every later one comes through key(). */
    fputs("{\"error\":", fp);
    output_json_string(fp, a->error == SALVO_E_OK ? NULL : salvo_err_name(a->error));
    put_status(fp, "status", a->status);
    put_ms(fp, "dns_ms", a->dns_ms);
    put_ms(fp, "connect_ms", a->connect_ms);
    put_ms(fp, "tls_ms", a->tls_ms);
    put_ms(fp, "ttfb_ms", a->ttfb_ms);
    put_str(fp, "remote_ip", a->remote_ip);
    put_bool3(fp, "reused", a->reused);
    put_ms(fp, "backoff_ms", a->backoff_ms);
    fputc('}', fp);
}

static void put_attempts_log(FILE *fp, const salvo_result_t *r, int with_attempt_log)
{
    size_t i;

    key(fp, "attempts_log");
    if (!with_attempt_log) {
        fputs("null", fp);
        return;
    }
    fputc('[', fp);
    for (i = 0; r->attempts_log != NULL && i < r->attempts_log_len; i++) {
        if (i > 0)
            fputc(',', fp);
        put_attempt(fp, &r->attempts_log[i]);
    }
    fputc(']', fp);
}

/* The TLS and certificate fields, tls_version to cert_issuer. */
static void put_tls(FILE *fp, const salvo_result_t *r)
{
    put_str(fp, "tls_version", r->tls_version);
    put_str(fp, "tls_cipher", r->tls_cipher);
    put_str(fp, "alpn", r->alpn);
    put_bool3(fp, "tls_resumed", r->tls_resumed);
    put_str(fp, "cert_expiry", r->cert_expiry);
    put_str(fp, "chain_expiry", r->chain_expiry);
    key(fp, "cert_days_left");
    if (r->cert_expiry == NULL)
        fputs("null", fp);
    else
        fprintf(fp, "%" PRId64, r->cert_days_left);
    put_str(fp, "cert_subject", r->cert_subject);
    put_str(fp, "cert_issuer", r->cert_issuer);
}

int output_json_record(FILE *fp, const salvo_result_t *r, int with_attempt_log)
{
    fprintf(fp, "{\"index\":%" PRIu64, r->index);
    put_str(fp, "url", r->url);
    key(fp, "ok");
    fputs(r->ok ? "true" : "false", fp);
    put_status(fp, "status", r->status);
    put_error(fp, "error", r->error);
    put_str(fp, "message", r->message);
    key(fp, "attempts");
    fprintf(fp, "%d", r->attempts);
    put_str(fp, "remote_ip", r->remote_ip);
    key(fp, "bytes");
    fprintf(fp, "%" PRIu64, r->bytes);
    key(fp, "wire_bytes");
    fprintf(fp, "%" PRIu64, r->wire_bytes);
    put_ms(fp, "queue_ms", r->queue_ms);
    put_ms(fp, "dns_ms", r->dns_ms);
    put_ms(fp, "connect_ms", r->connect_ms);
    put_ms(fp, "tls_ms", r->tls_ms);
    put_ms(fp, "ttfb_ms", r->ttfb_ms);
    put_ms(fp, "transfer_ms", r->transfer_ms);
    put_ms(fp, "total_ms", r->total_ms);
    put_bool3(fp, "reused", r->reused);
    put_tls(fp, r);
    put_str(fp, "final_url", r->final_url);
    key(fp, "redirects");
    fprintf(fp, "%d", r->redirects);
    put_str(fp, "sha256", r->sha256);
    put_attempts_log(fp, r, with_attempt_log);
    fputs("}\n", fp);
    return ferror(fp) ? -1 : 0;
}
