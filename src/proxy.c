/*
 * proxy.c -- proxy URLs and no-proxy lists. See proxy.h.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "url.h"

/* Reasons name the part that is wrong, never the password. */
#define PROXY_MAX_USERINFO 1024

static const struct {
    const char *scheme;
    enum proxy_kind kind;
    uint16_t default_port;
} schemes[] = {
    {"http", PROXY_HTTP, 1080},
    {"https", PROXY_HTTPS, 443},
    {"socks5", PROXY_SOCKS5, 1080},
    {"socks5h", PROXY_SOCKS5H, 1080},
};

/* Splits "user[:pass]" into decoded parts and makes the Basic credentials. */
static int take_userinfo(const char *p, size_t n, struct proxy *px, char *err, size_t errlen)
{
    if (n > PROXY_MAX_USERINFO) {
        snprintf(err, errlen, "proxy credentials too long");
        return -1;
    }
    const char *colon = memchr(p, ':', n);
    size_t ulen = colon != NULL ? (size_t)(colon - p) : n;
    px->user = url_percent_decode(p, ulen);
    px->pass = colon != NULL ? url_percent_decode(colon + 1, n - ulen - 1) : strdup("");
    if (px->user == NULL || px->pass == NULL) {
        snprintf(err, errlen, "proxy credentials: out of memory or a %%00 in them");
        return -1;
    }
    /* RFC 1929 carries each in one length byte, and a user name cannot be empty. */
    if (!proxy_is_http(px) &&
        (strlen(px->user) == 0 || strlen(px->user) > 255 || strlen(px->pass) > 255)) {
        snprintf(err, errlen,
                 "SOCKS5 credentials need a user name of 1 to 255 bytes and a "
                 "password of at most 255");
        return -1;
    }
    if (!proxy_is_http(px))
        return 0;
    size_t ul = strlen(px->user), pl = strlen(px->pass);
    char *plain = malloc(ul + 1 + pl);
    px->basic_auth = malloc(sizeof "Basic " + base64_len(ul + 1 + pl));
    if (plain == NULL || px->basic_auth == NULL) {
        free(plain);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(plain, px->user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, px->pass, pl);
    memcpy(px->basic_auth, "Basic ", 6);
    base64_encode(plain, ul + 1 + pl, px->basic_auth + 6);
    explicit_bzero(plain, ul + 1 + pl);
    free(plain);
    return 0;
}

int proxy_parse(const char *s, struct proxy *px, char *err, size_t errlen)
{
    memset(px, 0, sizeof *px);
    const char *sep = strstr(s, "://");
    const char *rest = s;
    size_t k = 0; /* http:// when no scheme is given, as curl */
    if (sep != NULL) {
        size_t n = (size_t)(sep - s);
        for (k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
            if (strlen(schemes[k].scheme) == n && strncasecmp(s, schemes[k].scheme, n) == 0)
                break;
        if (k == sizeof schemes / sizeof schemes[0]) {
            snprintf(err, errlen, "unsupported proxy scheme '%.*s' (http, https, socks5, socks5h)",
                     (int)(n > 16 ? 16 : n), s);
            return -1;
        }
        rest = sep + 3;
    }
    px->kind = schemes[k].kind;
    size_t auth_len = strcspn(rest, "/?#");
    if (rest[auth_len] != '\0' && strcmp(rest + auth_len, "/") != 0) {
        snprintf(err, errlen, "a proxy URL has no path, query or fragment");
        return -1;
    }
    const char *at = memrchr(rest, '@', auth_len);
    if (at != NULL && take_userinfo(rest, (size_t)(at - rest), px, err, errlen) < 0)
        goto fail;
    const char *host = at != NULL ? at + 1 : rest;
    size_t host_len = auth_len - (size_t)(host - rest);

    /* The host and port read as an http URL's would. */
    char *as_url = malloc(sizeof "http://" + host_len);
    if (as_url == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(as_url, "http://", 7);
    memcpy(as_url + 7, host, host_len);
    as_url[7 + host_len] = '\0';
    struct url u;
    char why[128];
    salvo_err_t rc = url_parse(as_url, &u, why, sizeof why);
    free(as_url);
    if (rc != SALVO_E_OK) {
        snprintf(err, errlen, "bad proxy address: %s", why);
        goto fail;
    }
    px->host = strdup(u.host);
    px->host_is_ip = u.host_is_ip;
    px->port = u.port_explicit ? u.port : schemes[k].default_port;
    url_free(&u);
    if (px->host == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t shown_len = strlen(schemes[k].scheme) + strlen(px->host) + 16;
    px->shown = malloc(shown_len);
    if (px->shown == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(px->shown, shown_len, px->host_is_ip == 6 ? "%s://[%s]:%u" : "%s://%s:%u",
             schemes[k].scheme, px->host, px->port);
    return 0;
fail:
    proxy_free(px);
    return -1;
}

void proxy_free(struct proxy *px)
{
    free(px->host);
    free(px->user);
    if (px->pass != NULL)
        explicit_bzero(px->pass, strlen(px->pass));
    free(px->pass);
    if (px->basic_auth != NULL)
        explicit_bzero(px->basic_auth, strlen(px->basic_auth));
    free(px->basic_auth);
    free(px->shown);
    memset(px, 0, sizeof *px);
}

/* ---- no-proxy lists --------------------------------------------------------------------- */

struct noproxy_entry {
    int family;             /* AF_INET, AF_INET6 for an address, 0 for a name */
    unsigned char addr[16]; /* the address, when family is set */
    unsigned bits;          /* CIDR prefix length, the whole address by default */
    char name[256];         /* lower case, no leading or trailing dot, when a name */
};

static int parse_entry(const char *tok, size_t n, struct noproxy_entry *e)
{
    char buf[256];
    memset(e, 0, sizeof *e);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    char *a = buf;
    size_t alen = n;
    if (buf[0] == '[' && alen > 2 && strchr(buf, ']') != NULL) {
        a = buf + 1;
        *strchr(buf, ']') = '\0';
    }
    if (slash != NULL)
        *slash = '\0';
    if (inet_pton(AF_INET, a, e->addr) == 1)
        e->family = AF_INET;
    else if (inet_pton(AF_INET6, a, e->addr) == 1)
        e->family = AF_INET6;
    if (e->family != 0) {
        unsigned max = e->family == AF_INET ? 32 : 128;
        e->bits = max;
        if (slash != NULL) {
            char *end;
            unsigned long b = strtoul(slash + 1, &end, 10);
            if (*end != '\0' || end == slash + 1 || b > max)
                return -1;
            e->bits = b == 0 ? max : (unsigned)b; /* as curl: "/0" compares it all */
        }
        return 0;
    }
    if (slash != NULL)
        *slash = '/'; /* a name with a slash matches no host: keep it as written */
    const char *p = buf;
    while (*p == '.')
        p++;
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '.')
        len--;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        e->name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    e->name[len] = '\0';
    return 0;
}

int noproxy_parse(const char *list, struct noproxy *np)
{
    static const char seps[] = ", \t";
    memset(np, 0, sizeof *np);
    if (list == NULL)
        return 0;
    const char *p = list + strspn(list, seps);
    size_t len = strcspn(p, seps);
    if (len == 1 && p[0] == '*' && p[1 + strspn(p + 1, seps)] == '\0') {
        np->all = 1;
        return 0;
    }
    size_t cap = 0;
    for (const char *q = p; *q != '\0';) {
        cap++;
        q += strcspn(q, seps);
        q += strspn(q, seps);
    }
    if (cap == 0)
        return 0;
    np->entries = calloc(cap, sizeof *np->entries);
    if (np->entries == NULL)
        return -1;
    while (*p != '\0') {
        len = strcspn(p, seps);
        if (parse_entry(p, len, &np->entries[np->n]) == 0)
            np->n++; /* an entry that cannot match anything is no error, as in curl */
        p += len;
        p += strspn(p, seps);
    }
    return 0;
}

void noproxy_free(struct noproxy *np)
{
    free(np->entries);
    memset(np, 0, sizeof *np);
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int noproxy_match(const struct noproxy *np, const char *host)
{
    if (np->all)
        return 1;
    unsigned char addr[16];
    int family = inet_pton(AF_INET, host, addr) == 1    ? AF_INET
                 : inet_pton(AF_INET6, host, addr) == 1 ? AF_INET6
                                                        : 0;
    size_t hlen = strlen(host);
    for (size_t i = 0; i < np->n; i++) {
        const struct noproxy_entry *e = &np->entries[i];
        if (family != 0) {
            if (e->family == family && prefix_equal(addr, e->addr, e->bits))
                return 1;
            continue;
        }
        if (e->family != 0)
            continue;
        size_t elen = strlen(e->name);
        if (elen > hlen || strcasecmp(host + hlen - elen, e->name) != 0)
            continue;
        if (elen == hlen || host[hlen - elen - 1] == '.')
            return 1;
    }
    return 0;
}

/* ---- an engine's settings ----------------------------------------------------------- */

int proxy_settings_init(struct proxy_settings *s, const char *http_proxy, const char *https_proxy,
                        const char *noproxy, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if ((http_proxy != NULL && *http_proxy != '\0' &&
         proxy_parse(http_proxy, &s->http, err, errlen) < 0) ||
        (https_proxy != NULL && *https_proxy != '\0' &&
         proxy_parse(https_proxy, &s->https, err, errlen) < 0))
        goto fail;
    if (noproxy_parse(noproxy, &s->noproxy) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    proxy_settings_free(s);
    return -1;
}

void proxy_settings_free(struct proxy_settings *s)
{
    proxy_free(&s->http);
    proxy_free(&s->https);
    noproxy_free(&s->noproxy);
}

const struct proxy *proxy_pick(const struct proxy_settings *s, int tls, const char *host)
{
    const struct proxy *p = tls ? &s->https : &s->http;
    if (p->host == NULL || noproxy_match(&s->noproxy, host))
        return NULL;
    return p;
}
