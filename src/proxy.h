/*
 * proxy.h -- which proxy a URL goes through, and what the proxy needs to hear.
 *
 * A proxy is given as a URL: http:// (requests for http:// targets in absolute form,
 * https:// targets through a CONNECT tunnel), https:// (the same over TLS to the proxy),
 * socks5:// (the target's name resolved here, its address sent) or socks5h:// (the name
 * sent, the proxy resolves it). Credentials ride in the userinfo, percent-encoded as in
 * any URL; they go to the proxy only, and never into a record, a trace or a message:
 * `shown` is what those see.
 *
 * A no-proxy list says which targets bypass the proxy, read as curl reads its
 * --noproxy and no_proxy: entries separated by commas or spaces; a host name matches an
 * entry equal to it or to one of its parent domains (a leading dot on the entry is
 * ignored: ".example.com" and "example.com" both match www.example.com and example.com);
 * an IP address matches an equal address or a CIDR range ("10.0.0.0/8"); the list "*"
 * matches every host. Pure: no I/O.
 */
#ifndef SALVO_PROXY_H
#define SALVO_PROXY_H

#include <stddef.h>
#include <stdint.h>

enum proxy_kind {
    PROXY_HTTP,   /* http://: absolute-form requests, CONNECT for https targets */
    PROXY_HTTPS,  /* https://: the same over TLS to the proxy */
    PROXY_SOCKS5, /* socks5://: the target's address, resolved here */
    PROXY_SOCKS5H /* socks5h://: the target's name, resolved by the proxy */
};

struct proxy {
    enum proxy_kind kind;
    char *host;       /* lower case, no brackets */
    int host_is_ip;   /* 4 or 6 for an IP literal, 0 for a name */
    uint16_t port;    /* explicit, else 443 for https://, 1080 for the others (as curl) */
    char *user;       /* decoded; NULL when the URL has no credentials */
    char *pass;       /* decoded; "" when the userinfo has no colon */
    char *shown;      /* "scheme://host:port", without credentials: for records */
    char *basic_auth; /* "Basic <base64 user:pass>" for HTTP proxies, NULL without
                         credentials */
};

/* Parses a proxy URL (a bare "host:port" is an http:// proxy). Returns 0, or -1 with a
 * one-line reason in err that never holds the password. Free with proxy_free. */
int proxy_parse(const char *s, struct proxy *p, char *err, size_t errlen);
void proxy_free(struct proxy *p);

/* Whether the proxy speaks HTTP (CONNECT, absolute form) rather than SOCKS. */
static inline int proxy_is_http(const struct proxy *p)
{
    return p->kind == PROXY_HTTP || p->kind == PROXY_HTTPS;
}

struct noproxy_entry;
struct noproxy {
    int all; /* the list is "*" */
    struct noproxy_entry *entries;
    size_t n;
};

/* Parses a no-proxy list (NULL or "" is empty). Returns 0, or -1 on OOM. */
int noproxy_parse(const char *list, struct noproxy *np);
void noproxy_free(struct noproxy *np);

/* Whether host (lower case, no brackets, no trailing dot, as url.h gives it) bypasses
 * the proxy. */
int noproxy_match(const struct noproxy *np, const char *host);

/* An engine's proxy settings: the proxy of each target scheme and the targets that go
 * direct. */
struct proxy_settings {
    struct proxy http;  /* for http:// targets; host NULL when none */
    struct proxy https; /* for https:// targets; host NULL when none */
    struct noproxy noproxy;
    struct proxy_settings *older; /* settings replaced since, kept for requests queued
                                     under them */
};

/* Parses both proxies and the list into s. Returns 0, or -1 with a reason in err. */
int proxy_settings_init(struct proxy_settings *s, const char *http_proxy, const char *https_proxy,
                        const char *noproxy, char *err, size_t errlen);
void proxy_settings_free(struct proxy_settings *s);

/* The proxy a target goes through, NULL when it goes direct. */
const struct proxy *proxy_pick(const struct proxy_settings *s, int tls, const char *host);

#endif
