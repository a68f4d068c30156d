/*
 * redirect.c -- the next URL of a redirect, as a pure function. See redirect.h.
 */
#include "redirect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int redirect_wanted(int status, const char *location)
{
    return (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
           location != NULL && location[0] != '\0';
}

static int becomes_get(int status, const char *method)
{
    if (status == 303)
        return strcmp(method, "HEAD") != 0;
    return (status == 301 || status == 302) && strcmp(method, "POST") == 0;
}

/* The reason for an unusable Location, with any password in it masked. */
static void unusable(char *msg, size_t msglen, const char *location)
{
    char *masked = NULL;
    if (url_mask_password(location, &masked) < 0)
        snprintf(msg, msglen, "unusable Location");
    else
        snprintf(msg, msglen, "unusable Location '%.150s'", masked ? masked : location);
    free(masked);
}

salvo_err_t redirect_next(const struct redirect_in *in, struct redirect_out *out, char *msg,
                          size_t msglen)
{
    char why[128];

    memset(out, 0, sizeof *out);
    if (in->redirects >= in->max_redirs) {
        snprintf(msg, msglen, "more than %d redirects", in->max_redirs);
        return SALVO_E_REDIRECT_LIMIT;
    }
    if (in->location_conflict) {
        snprintf(msg, msglen, "a %d answer with several different Location fields", in->status);
        return SALVO_E_BAD_REDIRECT;
    }
    out->next = url_resolve(in->url, in->location);
    if (out->next == NULL || url_parse(out->next, &out->url, why, sizeof why) != SALVO_E_OK) {
        unusable(msg, msglen, in->location);
        free(out->next);
        out->next = NULL;
        return SALVO_E_BAD_REDIRECT;
    }
    out->to_get = becomes_get(in->status, in->method);
    /* Another origin, not just another host: an https to http redirect on one host would
     * send credentials in clear, and another port may be another service (curl,
     * CVE-2022-27776). */
    out->cross_origin = strcmp(out->url.host, in->url->host) != 0 ||
                        out->url.port != in->url->port || out->url.tls != in->url->tls;
    return SALVO_E_OK;
}

void redirect_out_free(struct redirect_out *out)
{
    if (out->next != NULL)
        url_free(&out->url);
    free(out->next);
    out->next = NULL;
}
