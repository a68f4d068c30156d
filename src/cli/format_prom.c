/*
 * format_prom.c -- the Prometheus exposition. See format_prom.h.
 */
#include "format_prom.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checks.h"
#include "output.h"

void prom_init(struct prom *p)
{
    memset(p, 0, sizeof *p);
}

void prom_free(struct prom *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].url);
        free(p->e[i].name);
    }
    free(p->e);
    free(p->slot);
    memset(p, 0, sizeof *p);
}

/* FNV-1a 64 of url, a NUL, and name. */
static uint64_t key_hash(const char *url, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *s = (const unsigned char *)url;; s++) {
        h = (h ^ *s) * 1099511628211ull;
        if (*s == '\0')
            break;
    }
    for (const unsigned char *s = (const unsigned char *)name; *s != '\0'; s++)
        h = (h ^ *s) * 1099511628211ull;
    return h;
}

/* The slot holding (url, name), or the free slot where it goes. */
static size_t *find_slot(const struct prom *p, const char *url, const char *name)
{
    size_t mask = p->nslots - 1, i = (size_t)key_hash(url, name) & mask;
    for (;; i = (i + 1) & mask) {
        size_t *s = &p->slot[i];
        if (*s == 0)
            return s;
        const struct prom_entry *e = &p->e[*s - 1];
        if (strcmp(e->url, url) == 0 && strcmp(e->name, name) == 0)
            return s;
    }
}

/* Keeps the table at most half full: doubles it (and places every entry again). */
static int grow_slots(struct prom *p)
{
    if (p->nslots != 0 && (p->n + 1) * 2 <= p->nslots)
        return 0;
    size_t n = p->nslots ? p->nslots * 2 : 1024;
    size_t *slot = calloc(n, sizeof *slot);
    if (slot == NULL)
        return -1;
    free(p->slot);
    p->slot = slot;
    p->nslots = n;
    for (size_t i = 0; i < p->n; i++)
        *find_slot(p, p->e[i].url, p->e[i].name) = i + 1;
    return 0;
}

/* Unix seconds of an ISO-8601 UTC time as records write it (2030-01-31T12:00:00Z). */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char z = 0;
    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &z) != 7 ||
        z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static double seconds(double ms)
{
    return ms >= 0 && ms < 1e12 ? ms / 1000.0 : -1;
}

int prom_add(struct prom *p, const salvo_result_t *r, const struct output_extra *x,
             const char *name)
{
    const char *url = r->url != NULL ? r->url : "";
    if (name == NULL)
        name = "";
    if (grow_slots(p) < 0)
        goto nomem;
    size_t *s = find_slot(p, url, name);
    struct prom_entry *e;
    if (*s != 0) {
        e = &p->e[*s - 1]; /* the last record of a pair wins */
    } else {
        if (p->n == p->cap) {
            size_t cap = p->cap ? p->cap * 2 : 256;
            struct prom_entry *ne = realloc(p->e, cap * sizeof *ne);
            if (ne == NULL)
                goto nomem;
            p->e = ne;
            p->cap = cap;
        }
        e = &p->e[p->n];
        memset(e, 0, sizeof *e);
        e->url = strdup(url);
        e->name = strdup(name);
        if (e->url == NULL || e->name == NULL) {
            free(e->url);
            free(e->name);
            goto nomem;
        }
        *s = ++p->n;
    }
    e->ok = r->ok != 0;
    e->status = r->status > 0 ? r->status : 0;
    e->seconds[PHASE_DNS] = seconds(r->dns_ms);
    e->seconds[PHASE_CONNECT] = seconds(r->connect_ms);
    e->seconds[PHASE_TLS] = seconds(r->tls_ms);
    e->seconds[PHASE_TTFB] = seconds(r->ttfb_ms);
    e->seconds[PHASE_TRANSFER] = seconds(r->transfer_ms);
    e->seconds[PHASE_TOTAL] = seconds(r->total_ms);
    int64_t leaf, chain;
    int has_leaf = parse_time(r->cert_expiry, &leaf) == 0;
    int has_chain = parse_time(r->chain_expiry, &chain) == 0;
    e->has_cert = has_leaf || has_chain;
    e->cert_expiry = !has_chain || (has_leaf && leaf < chain) ? leaf : chain;
    e->error = r->error;
    e->checks_failed = x != NULL && x->checked ? x->checks_failed : 0;
    return 0;
nomem:
    errno = ENOMEM;
    return -1;
}

/* A label value: valid UTF-8 (an ill-formed sequence becomes U+FFFD), with backslash,
 * double quote and line feed escaped as the text format says. */
static void put_label(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        size_t bad, n = output_utf8_seq(p, &bad);
        if (n == 0) {
            fputs("\xef\xbf\xbd", out);
            p += bad;
            continue;
        }
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '"')
            fputs("\\\"", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fwrite(p, 1, n, out);
        p += n;
    }
}

/* One sample's name and labels: NAME{url="...",name="..."[,EXTRA="VALUE"]} */
static void put_sample(FILE *out, const char *metric, const struct prom_entry *e, const char *extra,
                       const char *value)
{
    fprintf(out, "%s{url=\"", metric);
    put_label(out, e->url);
    fputs("\",name=\"", out);
    put_label(out, e->name);
    fputc('"', out);
    if (extra != NULL) {
        fprintf(out, ",%s=\"", extra);
        put_label(out, value);
        fputc('"', out);
    }
    fputs("} ", out);
}

static void put_head(FILE *out, const char *metric, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
}

static const char *const phase_names[PHASE_COUNT] = {"dns",  "connect",  "tls",
                                                     "ttfb", "transfer", "total"};

int prom_write(const struct prom *p, FILE *out)
{
    if (p->n == 0)
        return ferror(out) ? -1 : 0;
    put_head(out, "salvo_probe_success",
             "1 when the URL's record is ok (no error, no failed check), else 0.");
    for (size_t i = 0; i < p->n; i++) {
        put_sample(out, "salvo_probe_success", &p->e[i], NULL, NULL);
        fprintf(out, "%d\n", p->e[i].ok);
    }
    put_head(out, "salvo_probe_http_status_code",
             "HTTP status of the last final response, 0 when none arrived.");
    for (size_t i = 0; i < p->n; i++) {
        put_sample(out, "salvo_probe_http_status_code", &p->e[i], NULL, NULL);
        fprintf(out, "%d\n", p->e[i].status);
    }
    put_head(out, "salvo_probe_duration_seconds",
             "Duration of each phase of the final attempt that ran; total spans every "
             "attempt and backoff.");
    for (size_t i = 0; i < p->n; i++) {
        for (int k = 0; k < PHASE_COUNT; k++) {
            if (p->e[i].seconds[k] < 0)
                continue;
            put_sample(out, "salvo_probe_duration_seconds", &p->e[i], "phase", phase_names[k]);
            fprintf(out, "%.6f\n", p->e[i].seconds[k]);
        }
    }
    int any = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->e[i].has_cert)
            continue;
        if (!any)
            put_head(out, "salvo_probe_ssl_earliest_cert_expiry",
                     "Unix time of the earlier of the leaf's and the chain's expiry.");
        any = 1;
        put_sample(out, "salvo_probe_ssl_earliest_cert_expiry", &p->e[i], NULL, NULL);
        fprintf(out, "%lld\n", (long long)p->e[i].cert_expiry);
    }
    any = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->e[i].error == SALVO_E_OK)
            continue;
        if (!any)
            put_head(out, "salvo_probe_error",
                     "1 for the error class of a URL whose response did not arrive whole.");
        any = 1;
        put_sample(out, "salvo_probe_error", &p->e[i], "class", salvo_err_name(p->e[i].error));
        fputs("1\n", out);
    }
    any = 0;
    for (size_t i = 0; i < p->n; i++) {
        for (int k = 0; k < CHECK_COUNT; k++) {
            if (!(p->e[i].checks_failed & (1u << k)))
                continue;
            if (!any)
                put_head(out, "salvo_probe_check_failed", "1 for each check the response failed.");
            any = 1;
            put_sample(out, "salvo_probe_check_failed", &p->e[i], "check",
                       checks_name((enum check)k));
            fputs("1\n", out);
        }
    }
    return ferror(out) ? -1 : 0;
}
