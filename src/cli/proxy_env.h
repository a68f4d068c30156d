/*
 * proxy_env.h -- the proxies the command line asks for: -x and --noproxy, else the
 * environment, read exactly as curl reads it, so that a job moved from curl to salvo
 * goes through the same proxy:
 *   - an http:// target: http_proxy (lower case only: HTTP_PROXY may be set by a CGI
 *     request's "Proxy:" header), else all_proxy, else ALL_PROXY;
 *   - an https:// target: https_proxy, else HTTPS_PROXY, else all_proxy, else ALL_PROXY;
 *   - the hosts that go direct: --noproxy, else no_proxy, else NO_PROXY (they apply to
 *     -x too).
 * -x replaces the proxy variables (-x "" means no proxy at all). A variable set to ""
 * counts as unset.
 */
#ifndef SALVO_PROXY_ENV_H
#define SALVO_PROXY_ENV_H

struct proxy_choice {
    const char *http;      /* the proxy for http:// targets, NULL for none */
    const char *http_from; /* where it came from: "-x" or a variable's name */
    const char *https;     /* the same for https:// targets */
    const char *https_from;
    const char *noproxy; /* the hosts that go direct, NULL for none */
};

/* x: the -x value, NULL when not given; noproxy: --noproxy's, NULL when not given. */
void proxy_env_choose(const char *x, const char *noproxy, struct proxy_choice *out);

#endif
