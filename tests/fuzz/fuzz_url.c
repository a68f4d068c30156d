/*
 * fuzz_url.c -- libFuzzer target for the URL module: url_parse of the input, the
 * url_format round trip, and url_resolve of the input as a reference (a Location value)
 * against a fixed base.
 *
 * Checked promises: a parsed URL formats back to a string that parses again to the same
 * scheme, host, port, target and authority; a failed parse always says why. What
 * url_resolve returns goes through the same checks (it may still fail to parse: an
 * absolute reference is passed on as given, for the caller's url_parse to judge).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

#define BASE "http://user@Example.TEST:8080/a/b/c;p?q=1#frag"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct url *a, const struct url *b)
{
    return a->tls == b->tls && a->port == b->port && a->host_is_ip == b->host_is_ip &&
           strcmp(a->scheme, b->scheme) == 0 && strcmp(a->host, b->host) == 0 &&
           strcmp(a->target, b->target) == 0 && strcmp(a->authority, b->authority) == 0;
}

/* Parses s; if that works, checks the format/parse round trip. */
static void parse_and_round_trip(const char *s)
{
    struct url u, v;
    char err[256] = "";

    if (url_parse(s, &u, err, sizeof(err)) != SALVO_E_OK) {
        if (err[0] == '\0')
            abort();
        return;
    }
    char *f = url_format(&u);
    if (f == NULL)
        abort();
    if (url_parse(f, &v, err, sizeof(err)) != SALVO_E_OK)
        abort(); /* url_format wrote something url_parse refuses */
    if (!same(&u, &v))
        abort();
    url_free(&v);
    free(f);
    url_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct url base;
    static int have_base;
    char err[256];
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (!have_base) {
        if (url_parse(BASE, &base, err, sizeof(err)) != SALVO_E_OK)
            abort();
        have_base = 1;
    }
    parse_and_round_trip(s);
    char *r = url_resolve(&base, s);
    if (r != NULL)
        parse_and_round_trip(r);
    free(r);
    free(s);
    return 0;
}
