/*
 * output.c -- the JSON Lines writer (CONTRACT.md, "Records").
 *
 * A record is written field by field, in the contract's order, into a fixed buffer that
 * goes to the FILE* in one fwrite (in several pieces for a record longer than the
 * buffer, such as one with a 64 KiB URL): no allocation. This is the hottest code of a
 * keep-alive run (one record per request), so it avoids printf: numbers are formatted by
 * hand (durations from integer microseconds, so no locale's decimal comma can slip in)
 * and runs of plain ASCII are copied at once.
 *
 * Strings are made valid UTF-8 here, whatever bytes a URL, a server's reason or a
 * certificate subject carried: each ill-formed sequence becomes one U+FFFD, using the
 * "maximal subpart" rule of the Unicode standard (section 3.9, as the WHATWG decoder
 * does), so that a truncated sequence costs one replacement, not one per byte.
 *
 * No state: re-entrant. The unlocked stdio calls assume one thread writes a FILE*.
 */
#include "output.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* A member key with its leading comma, and its length, for rec_write. */
#define K(name) ",\"" name "\":", sizeof(",\"" name "\":") - 1

/* A string literal and its length, for rec_write: no strlen at run time. */
#define LIT(s) s, sizeof(s) - 1

/* The Unicode replacement character, U+FFFD, in UTF-8. */
#define REPLACEMENT "\xef\xbf\xbd"

/* Durations past this (about 31 years, in ms) are not plausible and would overflow the
 * microsecond integer: they are written as null. */
#define MS_PLAUSIBLE_MAX 1e12

/* A record is assembled here and handed to stdio in one piece: one fwrite per record
 * instead of one stdio call per field. A record longer than the buffer (a 64 KiB URL)
 * goes out in several pieces, still without allocating. */
struct rec {
    FILE *fp;
    size_t len;
    char buf[4096];
};

/* Not `= {.fp = fp}`: that would zero the 4 KiB buffer once per record. */
static void rec_init(struct rec *o, FILE *fp)
{
    o->fp = fp;
    o->len = 0;
}

static void rec_flush(struct rec *o)
{
    if (o->len > 0)
        fwrite_unlocked(o->buf, 1, o->len, o->fp);
    o->len = 0;
}

/* The rare case of rec_write, out of line: the buffer is full. */
static __attribute__((noinline)) void rec_write_full(struct rec *o, const void *p, size_t n)
{
    rec_flush(o);
    if (n > sizeof o->buf) {
        fwrite_unlocked(p, 1, n, o->fp);
        return;
    }
    memcpy(o->buf, p, n);
    o->len = n;
}

/* Inline, so that a key of known length (K("url")) is copied by a move or two rather
 * than a call to memcpy: a record is about a hundred such pieces. */
static inline void rec_write(struct rec *o, const void *p, size_t n)
{
    if (n > sizeof o->buf - o->len) {
        rec_write_full(o, p, n);
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void rec_puts(struct rec *o, const char *s)
{
    rec_write(o, s, strlen(s));
}

static void rec_putc(struct rec *o, int c)
{
    if (o->len == sizeof o->buf)
        rec_flush(o);
    o->buf[o->len++] = (char)c;
}

/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when it is ill-formed;
 * then *bad is how many bytes the one U+FFFD replaces (at least 1). Table 3-7 of the
 * Unicode standard: no overlongs, no surrogates, nothing past U+10FFFF.
 */
size_t output_utf8_seq(const unsigned char *s, size_t *bad)
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

/* "00" to "99": integers are written two digits at a time, halving the divisions. */
static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes an unsigned integer in decimal, straight into the record's buffer: counting the
 * digits first lets them be written in place, with no copy of a variable length (a
 * record holds a dozen numbers, most of them one to four digits long). */
static void put_u64(struct rec *o, uint64_t v)
{
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 100)
        n += t >= 100 ? 2 : 1; /* two digits a step, as they are written */
    if (n > sizeof o->buf - o->len)
        rec_flush(o);
    char *p = o->buf + o->len + n;
    while (v >= 10) {
        p -= 2;
        memcpy(p, &digit_pairs[2 * (v % 100)], 2);
        v /= 100;
    }
    if (p > o->buf + o->len)
        *--p = (char)('0' + v);
    o->len += n;
}

static void put_i64(struct rec *fp, int64_t v)
{
    if (v < 0) {
        rec_putc(fp, '-');
        put_u64(fp, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(fp, (uint64_t)v);
    }
}

/* Bytes that go out as they are: printable ASCII but the quote and the backslash. A
 * table, built when compiling, because every byte of every string is looked up. */
#define PLAIN(c)   ((c) >= 0x20 && (c) < 0x7f && (c) != '"' && (c) != '\\')
#define PLAIN4(c)  PLAIN(c), PLAIN((c) + 1), PLAIN((c) + 2), PLAIN((c) + 3)
#define PLAIN16(c) PLAIN4(c), PLAIN4((c) + 4), PLAIN4((c) + 8), PLAIN4((c) + 12)
#define PLAIN64(c) PLAIN16(c), PLAIN16((c) + 16), PLAIN16((c) + 32), PLAIN16((c) + 48)
static const unsigned char plain_ascii[256] = {PLAIN64(0), PLAIN64(64), PLAIN64(128), PLAIN64(192)};

/* Writes one ASCII byte, escaped as JSON requires (and DEL too, for terminals). */
static void put_ascii(struct rec *fp, unsigned char c)
{
    switch (c) {
    case '"':
        rec_puts(fp, "\\\"");
        break;
    case '\\':
        rec_puts(fp, "\\\\");
        break;
    case '\b':
        rec_puts(fp, "\\b");
        break;
    case '\f':
        rec_puts(fp, "\\f");
        break;
    case '\n':
        rec_puts(fp, "\\n");
        break;
    case '\r':
        rec_puts(fp, "\\r");
        break;
    case '\t':
        rec_puts(fp, "\\t");
        break;
    default:
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rec_write(fp, esc, sizeof esc);
        } else {
            rec_putc(fp, c);
        }
    }
}

/* The characters of s up to its NUL, escaped, without quotes. */
static void put_json_chars(struct rec *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n, bad;

    while (*p != '\0') {
        const unsigned char *run = p;
        while (plain_ascii[*p])
            p++;
        if (p > run)
            rec_write(fp, run, (size_t)(p - run));
        if (*p == '\0')
            break;
        n = output_utf8_seq(p, &bad);
        if (n == 1) {
            put_ascii(fp, *p);
        } else if (n > 1) {
            rec_write(fp, p, n);
        } else {
            rec_puts(fp, REPLACEMENT);
            n = bad;
        }
        p += n;
    }
}

static void put_json_string(struct rec *fp, const char *s)
{
    if (s == NULL) {
        rec_write(fp, LIT("null"));
        return;
    }
    rec_putc(fp, '"');
    put_json_chars(fp, s);
    rec_putc(fp, '"');
}

/* n bytes at s (which must have a NUL at s[n]) as a JSON string: NUL bytes inside are
 * characters too (U+0000), and a sequence cut at the end becomes U+FFFD. */
static void put_json_bytes(struct rec *fp, const char *s, size_t n)
{
    const char *end = s + n;
    rec_putc(fp, '"');
    for (;;) {
        put_json_chars(fp, s);
        s += strlen(s);
        if (s >= end)
            break;
        rec_puts(fp, "\\u0000");
        s++;
    }
    rec_putc(fp, '"');
}

/* "checks_failed": the names of the failed checks in the contract's order, [] when all
 * passed, null when no whole response was there to check. */
static void put_checks(struct rec *fp, const struct output_extra *x)
{
    rec_write(fp, K("checks_failed"));
    if (!x->checked) {
        rec_write(fp, LIT("null"));
        return;
    }
    rec_putc(fp, '[');
    int first = 1;
    for (int k = 0; k < CHECK_COUNT; k++) {
        if (!(x->checks_failed & (1u << k)))
            continue;
        if (!first)
            rec_putc(fp, ',');
        first = 0;
        put_json_string(fp, checks_name((enum check)k));
    }
    rec_putc(fp, ']');
}

/* A header name, lower-cased (names are ASCII tokens; anything else is escaped). */
static void put_lower_name(struct rec *fp, const char *name)
{
    char low[256];
    size_t i;
    for (i = 0; name[i] != '\0' && i < sizeof low - 1; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    low[i] = '\0';
    put_json_string(fp, low);
}

/* "headers": one member per field name, lower-cased, in the order of first appearance;
 * the values of a repeated field joined with ", ", except set-cookie's, with "\n" (a
 * cookie's own commas would make a joined list ambiguous). */
static void put_headers(struct rec *fp, const salvo_result_t *r, int with_headers)
{
    rec_write(fp, K("headers"));
    if (!with_headers || r->headers == NULL) {
        rec_write(fp, LIT("null"));
        return;
    }
    rec_putc(fp, '{');
    int first = 1;
    for (size_t i = 0; i < r->headers_len; i++) {
        const char *name = r->headers[i].name;
        size_t j;
        for (j = 0; j < i && strcasecmp(r->headers[j].name, name) != 0; j++)
            ;
        if (j < i)
            continue; /* written with its first occurrence */
        if (!first)
            rec_putc(fp, ',');
        first = 0;
        put_lower_name(fp, name);
        rec_puts(fp, ":\"");
        const char *sep = strcasecmp(name, "set-cookie") == 0 ? "\\n" : ", ";
        for (j = i; j < r->headers_len; j++) {
            if (strcasecmp(r->headers[j].name, name) != 0)
                continue;
            if (j > i)
                rec_puts(fp, sep);
            put_json_chars(fp, r->headers[j].value);
        }
        rec_putc(fp, '"');
    }
    rec_putc(fp, '}');
}

/* A field's separator and key, as one literal and its length: K("url") is ,"url": */

static void put_str(struct rec *fp, const char *k, size_t kn, const char *s)
{
    rec_write(fp, k, kn);
    put_json_string(fp, s);
}

/* A duration in ms with 3 decimals, or null when negative (does not apply) or absurd. */
static void put_ms(struct rec *fp, const char *k, size_t kn, double ms)
{
    uint64_t us;

    rec_write(fp, k, kn);
    if (!(ms >= 0 && ms < MS_PLAUSIBLE_MAX)) { /* also catches NaN */
        rec_write(fp, LIT("null"));
        return;
    }
    us = (uint64_t)(ms * 1000.0 + 0.5);
    unsigned frac = (unsigned)(us % 1000);
    char dec[4] = {'.', (char)('0' + frac / 100)};
    memcpy(dec + 2, &digit_pairs[2 * (frac % 100)], 2);
    put_u64(fp, us / 1000);
    rec_write(fp, dec, sizeof dec);
}

/* A tri-state: -1 is null, 0 false, anything else true. */
static void put_bool3(struct rec *fp, const char *k, size_t kn, int v)
{
    rec_write(fp, k, kn);
    if (v < 0)
        rec_write(fp, LIT("null"));
    else if (v)
        rec_write(fp, LIT("true"));
    else
        rec_write(fp, LIT("false"));
}

/* An HTTP status, null when none arrived. */
static void put_status(struct rec *fp, const char *k, size_t kn, int status)
{
    rec_write(fp, k, kn);
    if (status == 0)
        rec_write(fp, LIT("null"));
    else
        put_i64(fp, status);
}

static void put_error(struct rec *fp, const char *k, size_t kn, salvo_err_t err)
{
    put_str(fp, k, kn, err == SALVO_E_OK ? NULL : salvo_err_name(err));
}

static void put_attempt(struct rec *fp, const salvo_attempt_t *a)
{
    /* The object's first field has no separator; every later one comes with K(). */
    rec_write(fp, LIT("{\"error\":"));
    put_json_string(fp, a->error == SALVO_E_OK ? NULL : salvo_err_name(a->error));
    put_status(fp, K("status"), a->status);
    put_ms(fp, K("dns_ms"), a->dns_ms);
    put_ms(fp, K("connect_ms"), a->connect_ms);
    put_ms(fp, K("tls_ms"), a->tls_ms);
    put_ms(fp, K("ttfb_ms"), a->ttfb_ms);
    put_str(fp, K("remote_ip"), a->remote_ip);
    put_bool3(fp, K("reused"), a->reused);
    put_ms(fp, K("backoff_ms"), a->backoff_ms);
    rec_putc(fp, '}');
}

static void put_attempts_log(struct rec *fp, const salvo_result_t *r, int with_attempt_log)
{
    size_t i;

    rec_write(fp, K("attempts_log"));
    if (!with_attempt_log) {
        rec_write(fp, LIT("null"));
        return;
    }
    rec_putc(fp, '[');
    for (i = 0; r->attempts_log != NULL && i < r->attempts_log_len; i++) {
        if (i > 0)
            rec_putc(fp, ',');
        put_attempt(fp, &r->attempts_log[i]);
    }
    rec_putc(fp, ']');
}

/* The TLS and certificate fields, tls_version to cert_issuer. */
static void put_tls(struct rec *fp, const salvo_result_t *r)
{
    put_str(fp, K("tls_version"), r->tls_version);
    put_str(fp, K("tls_cipher"), r->tls_cipher);
    put_str(fp, K("alpn"), r->alpn);
    put_bool3(fp, K("tls_resumed"), r->tls_resumed);
    put_str(fp, K("cert_expiry"), r->cert_expiry);
    put_str(fp, K("chain_expiry"), r->chain_expiry);
    rec_write(fp, K("cert_days_left"));
    if (r->cert_expiry == NULL)
        rec_write(fp, LIT("null"));
    else
        put_i64(fp, r->cert_days_left);
    put_str(fp, K("cert_subject"), r->cert_subject);
    put_str(fp, K("cert_issuer"), r->cert_issuer);
}

int output_json_record(FILE *out, const salvo_result_t *r, const struct output_extra *x)
{
    static const struct output_extra none;
    if (x == NULL)
        x = &none;
    struct rec rec, *fp = &rec;
    rec_init(&rec, out);
    rec_write(fp, LIT("{\"index\":"));
    put_u64(fp, r->index);
    put_str(fp, K("url"), r->url);
    rec_write(fp, K("ok"));
    if (r->ok)
        rec_write(fp, LIT("true"));
    else
        rec_write(fp, LIT("false"));
    put_status(fp, K("status"), r->status);
    put_error(fp, K("error"), r->error);
    put_str(fp, K("message"), r->message);
    rec_write(fp, K("attempts"));
    put_i64(fp, r->attempts);
    put_str(fp, K("remote_ip"), r->remote_ip);
    rec_write(fp, K("bytes"));
    put_u64(fp, r->bytes);
    rec_write(fp, K("wire_bytes"));
    put_u64(fp, r->wire_bytes);
    put_ms(fp, K("queue_ms"), r->queue_ms);
    put_ms(fp, K("dns_ms"), r->dns_ms);
    put_ms(fp, K("connect_ms"), r->connect_ms);
    put_ms(fp, K("tls_ms"), r->tls_ms);
    put_ms(fp, K("ttfb_ms"), r->ttfb_ms);
    put_ms(fp, K("transfer_ms"), r->transfer_ms);
    put_ms(fp, K("total_ms"), r->total_ms);
    put_bool3(fp, K("reused"), r->reused);
    put_tls(fp, r);
    put_str(fp, K("final_url"), r->final_url);
    rec_write(fp, K("redirects"));
    put_i64(fp, r->redirects);
    put_str(fp, K("sha256"), r->sha256);
    put_attempts_log(fp, r, x->attempt_log);
    put_ms(fp, K("start_ms"), r->start_ms);
    put_str(fp, K("name"), x->name);
    put_headers(fp, r, x->headers);
    rec_write(fp, K("body"));
    if (x->body != NULL)
        put_json_bytes(fp, x->body, x->body_len);
    else
        rec_write(fp, LIT("null"));
    put_str(fp, K("body_file"), x->body_file);
    put_checks(fp, x);
    rec_write(fp, K("round"));
    if (x->round > 0)
        put_u64(fp, x->round);
    else
        rec_write(fp, LIT("null"));
    put_str(fp, K("change"), compare_name(x->change));
    put_str(fp, K("proxy"), r->proxy);
    rec_write(fp, LIT("}\n"));
    rec_flush(fp);
    return ferror(out) ? -1 : 0;
}

void output_json_string(FILE *out, const char *s)
{
    struct rec rec;
    rec_init(&rec, out);
    put_json_string(&rec, s);
    rec_flush(&rec);
}

int output_json_transition(FILE *out, const salvo_transition_t *t)
{
    struct rec rec, *fp = &rec;
    rec_init(&rec, out);
    rec_write(fp, LIT("{\"t_ms\":"));
    put_ms(fp, "", 0, t->t_ms);
    rec_write(fp, K("index"));
    put_u64(fp, t->index);
    put_str(fp, K("from"), t->from);
    put_str(fp, K("to"), t->to);
    put_str(fp, K("detail"), t->detail);
    rec_write(fp, LIT("}\n"));
    rec_flush(fp);
    return ferror(out) ? -1 : 0;
}
