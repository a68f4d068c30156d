/*
 * redirect.c -- applying a 3xx answer to a request. See redirect.h.
 */
#include "redirect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"

/* Whether a "Name: value" header line has one of the given names. */
static int header_named(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

int redirect_wanted(const struct http1 *resp)
{
    return http1_redirect_status(resp->status) && resp->location != NULL &&
           resp->location[0] != '\0';
}

/* Headers meant for one origin must not travel to another (curl does the same):
 * credentials, and a Host the user set, which names the origin it was given for. */
static void drop_origin_headers(struct req *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->headers_len; i++) {
        if (header_named(r->headers[i], "Authorization") || header_named(r->headers[i], "Cookie") ||
            header_named(r->headers[i], "Host"))
            free(r->headers[i]);
        else
            r->headers[kept++] = r->headers[i];
    }
    r->headers_len = kept;
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

salvo_err_t redirect_apply(struct req *r, const struct http1 *resp, char *msg, size_t msglen)
{
    int status = resp->status;
    if (r->redirects >= r->eng->cfg.max_redirs) {
        snprintf(msg, msglen, "more than %d redirects", r->eng->cfg.max_redirs);
        return SALVO_E_REDIRECT_LIMIT;
    }
    if (resp->location_conflict) {
        snprintf(msg, msglen, "a %d answer with several different Location fields", status);
        return SALVO_E_BAD_REDIRECT;
    }
    char *next = url_resolve(&r->url, resp->location);
    struct url u;
    char why[128];
    if (next == NULL || url_parse(next, &u, why, sizeof why) != SALVO_E_OK) {
        unusable(msg, msglen, resp->location);
        free(next);
        return SALVO_E_BAD_REDIRECT;
    }
    if (becomes_get(status, r->method)) {
        char *get = strdup("GET");
        if (get == NULL) {
            url_free(&u);
            free(next);
            snprintf(msg, msglen, "out of memory");
            return SALVO_E_RESOURCE;
        }
        free(r->method);
        r->method = get;
        req_body_unref(r->body);
        r->body = NULL;
        r->is_head = 0;
        r->idempotent = 1;
    }
    /* Another origin, not just another host: an https to http redirect on one host would
     * send them in clear, and another port may be another service (curl, CVE-2022-27776). */
    if (strcmp(u.host, r->url.host) != 0 || u.port != r->url.port || u.tls != r->url.tls)
        drop_origin_headers(r);
    url_free(&r->url);
    r->url = u;
    free(r->final_url);
    r->final_url = next;
    r->redirects++;
    return SALVO_E_OK;
}
