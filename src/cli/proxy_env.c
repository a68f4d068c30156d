/*
 * proxy_env.c -- the proxies the command line asks for. See proxy_env.h.
 */
#include "proxy_env.h"

#include <stdlib.h>

/* The first of the variables that is set and not empty; *from names it. */
static const char *first_set(const char *const *names, const char **from)
{
    for (; *names != NULL; names++) {
        const char *v = getenv(*names);
        if (v != NULL && *v != '\0') {
            *from = *names;
            return v;
        }
    }
    *from = NULL;
    return NULL;
}

void proxy_env_choose(const char *x, const char *noproxy, struct proxy_choice *out)
{
    static const char *const for_http[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    static const char *const for_https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                            NULL};
    static const char *const for_noproxy[] = {"no_proxy", "NO_PROXY", NULL};
    const char *unused;
    if (x != NULL) {
        out->http = out->https = *x != '\0' ? x : NULL;
        out->http_from = out->https_from = "-x";
    } else {
        out->http = first_set(for_http, &out->http_from);
        out->https = first_set(for_https, &out->https_from);
    }
    out->noproxy = noproxy != NULL ? noproxy : first_set(for_noproxy, &unused);
}
