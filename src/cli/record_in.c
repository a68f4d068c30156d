/*
 * record_in.c -- a record read back from JSON Lines (see record_in.h).
 */
#include "record_in.h"

#include <stdlib.h>
#include <string.h>

#include "checks.h"

static const char *string_of(const struct json *v)
{
    return v != NULL && v->type == JSON_STRING ? v->text : NULL;
}

static int number_of(const struct json *v, double *out)
{
    if (v == NULL || v->type != JSON_NUMBER)
        return -1;
    *out = strtod(v->text, NULL);
    return 0;
}

/* An error class by name: SALVO_E_OK for null, SALVO_E_COUNT for a name this salvo does
 * not know (a later version's class): still unequal to every known one. */
static salvo_err_t error_by_name(const char *name)
{
    if (name == NULL)
        return SALVO_E_OK;
    for (int e = 0; e < SALVO_E_COUNT; e++)
        if (strcmp(salvo_err_name((salvo_err_t)e), name) == 0)
            return (salvo_err_t)e;
    return SALVO_E_COUNT;
}

static unsigned checks_by_name(const struct json *v)
{
    unsigned bits = 0;
    for (size_t i = 0; i < v->n; i++)
        for (int k = 0; k < CHECK_COUNT; k++)
            if (v->items[i].type == JSON_STRING &&
                strcmp(v->items[i].text, checks_name((enum check)k)) == 0)
                bits |= 1u << k;
    return bits;
}

int record_in_parse(struct record_in *r, const char *line)
{
    char why[128];
    memset(r, 0, sizeof *r);
    if (json_parse(line, &r->doc, why, sizeof why) < 0 || r->doc.type != JSON_OBJECT)
        return -1;
    const struct json *d = &r->doc, *ok = json_get(d, "ok");
    const struct json *index = json_get(d, "index"), *checks = json_get(d, "checks_failed");
    r->url = string_of(json_get(d, "url"));
    if (ok == NULL || ok->type != JSON_BOOL || r->url == NULL || index == NULL ||
        index->type != JSON_NUMBER || index->text[strspn(index->text, "0123456789")] != '\0')
        return -1;
    r->index = strtoull(index->text, NULL, 10);
    r->ok = ok->boolean;
    r->name = string_of(json_get(d, "name"));
    const char *error = string_of(json_get(d, "error"));
    r->error = error_by_name(error);
    r->cancelled = r->error == SALVO_E_CANCELLED;
    r->checked = checks != NULL && checks->type == JSON_ARRAY;
    r->checks_failed = r->checked ? checks_by_name(checks) : 0;
    /* Numbers are range-checked before any conversion: a corrupt FILE may say 1e300. */
    double v;
    r->status = number_of(json_get(d, "status"), &v) == 0 && v >= 0 && v < 1000 ? (int)v : 0;
    r->bytes = number_of(json_get(d, "bytes"), &v) == 0 && v >= 0 && v < 1e18 ? (uint64_t)v : 0;
    r->total_ms = number_of(json_get(d, "total_ms"), &v) == 0 && v >= 0 && v < 1e15 ? v : -1;
    r->has_cert_days = number_of(json_get(d, "cert_days_left"), &v) == 0 && v > -1e9 && v < 1e9;
    r->cert_days_left = r->has_cert_days ? (long long)v : 0;
    return 0;
}

void record_in_free(struct record_in *r)
{
    json_free(&r->doc);
}
