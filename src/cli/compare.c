/*
 * compare.c -- matching this run's records with a previous run's (see compare.h).
 */
#include "compare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_in.h"

/* Below this many days left, a certificate is "soon" when --min-cert-days is not given. */
#define CERT_SOON_DAYS 14

/* "slower": total_ms more than this many times the previous, and above SLOWER_MIN_MS. */
#define SLOWER_FACTOR 2.0
#define SLOWER_MIN_MS 100.0

struct previous {
    char *key;         /* "n:" name or "u:" url: a name never matches a url */
    size_t position;   /* line of FILE: keeps equal keys in FILE's order after sorting */
    size_t matched;    /* on a key's first entry: how many of the key's entries are taken */
    struct compared r; /* what the rules look at */
};

static const char *const change_names[CHANGE_COUNT] = {
    [CHANGE_NEW] = "new",
    [CHANGE_DOWN] = "down",
    [CHANGE_UP] = "up",
    [CHANGE_ERROR_CHANGED] = "error_changed",
    [CHANGE_CERT_SOON] = "cert_soon",
    [CHANGE_SLOWER] = "slower",
};

const char *compare_name(enum change ch)
{
    return ch > CHANGE_NONE && ch < CHANGE_COUNT ? change_names[ch] : NULL;
}

/* The key of a record: its name when it has one, else its url; NULL on a shortage of
 * memory. */
static char *make_key(const char *name, const char *url)
{
    const char *s = name != NULL ? name : url != NULL ? url : "";
    size_t n = strlen(s);
    char *k = malloc(n + 3);
    if (k != NULL) {
        k[0] = name != NULL ? 'n' : 'u';
        k[1] = ':';
        memcpy(k + 2, s, n + 1);
    }
    return k;
}

static int by_key_then_position(const void *a, const void *b)
{
    const struct previous *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : (x->position > y->position) - (x->position < y->position);
}

void compare_init(struct compare *c, long long cert_days_min)
{
    memset(c, 0, sizeof *c);
    c->cert_days_min = cert_days_min >= 0 ? cert_days_min : CERT_SOON_DAYS;
}

int compare_add(struct compare *c, const char *name, const char *url, const struct compared *r)
{
    if (c->n == c->room) {
        size_t more = c->room ? c->room * 2 : 1024;
        struct previous *v = realloc(c->v, more * sizeof *v);
        if (v == NULL)
            return -1;
        c->v = v;
        c->room = more;
    }
    struct previous *p = &c->v[c->n];
    p->key = make_key(name, url);
    if (p->key == NULL)
        return -1;
    p->position = c->n++;
    p->matched = 0;
    p->r = *r;
    return 0;
}

void compare_seal(struct compare *c)
{
    if (c->n > 0)
        qsort(c->v, c->n, sizeof *c->v, by_key_then_position);
}

/* One line of FILE: added when it is a record, counted in skipped when it is not.
 * Returns -1 on a shortage of memory. */
static int add_line(struct compare *c, const char *line)
{
    struct record_in r;
    int rc = 0;
    if (record_in_parse(&r, line) == 0) {
        struct compared was = {
            .ok = r.ok,
            .error = r.error,
            .checks_failed = r.checks_failed,
            .has_cert_days = r.has_cert_days,
            .cert_days_left = r.cert_days_left,
            .total_ms = r.total_ms,
        };
        rc = compare_add(c, r.name, r.url, &was);
    } else {
        c->skipped++;
    }
    record_in_free(&r);
    return rc;
}

int compare_load(struct compare *c, const char *path, long long cert_days_min, char *why,
                 size_t whylen)
{
    compare_init(c, cert_days_min);
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(why, whylen, "--compare: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int failed = 0;
    while (!failed && getline(&line, &cap, fp) >= 0)
        if (add_line(c, line) < 0)
            failed = ENOMEM;
    if (!failed && ferror(fp))
        failed = errno ? errno : EIO;
    free(line);
    fclose(fp);
    if (failed) {
        snprintf(why, whylen, "--compare: reading %s: %s", path, strerror(failed));
        compare_free(c);
        return -1;
    }
    compare_seal(c);
    return 0;
}

/* The first entry of key's group, or NULL when FILE has no record with that key. */
static struct previous *find_group(const struct compare *c, const char *key)
{
    size_t lo = 0, hi = c->n; /* the first entry whose key is >= key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->v[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && strcmp(c->v[lo].key, key) == 0 ? &c->v[lo] : NULL;
}

static enum change judge(const struct compare *c, const struct compared *was,
                         const struct compared *now)
{
    if (was->ok && !now->ok)
        return CHANGE_DOWN;
    if (!was->ok && now->ok)
        return CHANGE_UP;
    if (was->error != now->error || was->checks_failed != now->checks_failed)
        return CHANGE_ERROR_CHANGED;
    int soon_now = now->has_cert_days && now->cert_days_left < c->cert_days_min;
    int soon_was = was->has_cert_days && was->cert_days_left < c->cert_days_min;
    if (soon_now && !soon_was)
        return CHANGE_CERT_SOON;
    if (was->total_ms >= 0 && now->total_ms > SLOWER_MIN_MS &&
        now->total_ms > SLOWER_FACTOR * was->total_ms)
        return CHANGE_SLOWER;
    return CHANGE_NONE;
}

enum change compare_next(struct compare *c, const char *name, const char *url,
                         const struct compared *now)
{
    char *key = make_key(name, url);
    struct previous *first = key != NULL ? find_group(c, key) : NULL;
    enum change ch = CHANGE_NEW;
    if (first != NULL) {
        struct previous *p = first + first->matched;
        if (p < c->v + c->n && strcmp(p->key, key) == 0) {
            first->matched++;
            ch = judge(c, &p->r, now);
        }
    }
    free(key);
    return ch;
}

void compare_free(struct compare *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].key);
    free(c->v);
    c->v = NULL;
    c->n = c->room = 0;
}
