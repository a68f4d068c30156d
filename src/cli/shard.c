/*
 * shard.c -- the origin hash behind --shard (see shard.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salvo.h>

#include "shard.h"

#define SHARD_MAX 65536

/* A whole number with no sign (strtoul would take one), ending where K/N says it ends. */
static int parse_count(const char *s, char stop, unsigned long *out, const char **rest)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoul(s, &end, 10);
    *rest = end;
    return *end == stop ? 0 : -1;
}

int shard_parse(struct shard *s, const char *arg, char *why, size_t whylen)
{
    unsigned long k, n;
    const char *rest;
    if (parse_count(arg, '/', &k, &rest) < 0 || parse_count(rest + 1, '\0', &n, &rest) < 0) {
        snprintf(why, whylen, "not K/N, e.g. 2/8");
        return -1;
    }
    if (n < 1 || n > SHARD_MAX || k < 1 || k > n) {
        snprintf(why, whylen, "needs 1 <= K <= N <= %d", SHARD_MAX);
        return -1;
    }
    s->k = (uint32_t)k;
    s->n = (uint32_t)n;
    return 0;
}

uint64_t shard_fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* the FNV-1a 64 offset basis */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL; /* the FNV 64 prime */
    }
    return h;
}

uint32_t shard_of_url(const char *url, uint32_t n)
{
    /* An origin is at most "https://" + a 253-byte name or an IPv6 literal + ":65535". */
    char origin[512];
    if (n <= 1 || url == NULL || salvo_url_origin(url, origin, sizeof origin) < 0)
        return 1;
    return (uint32_t)(shard_fnv1a64(origin) % n) + 1;
}

int shard_keeps(const struct shard *s, const char *url)
{
    return s->n == 0 || shard_of_url(url, s->n) == s->k;
}
