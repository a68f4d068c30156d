/*
 * fuzz_redirect.c -- libFuzzer target for the redirect resolver: redirect_next (and so
 * url_resolve) on a base URL and a Location value from the input.
 *
 * Input layout: byte 0 picks the status and the method, byte 1 the redirect count; the
 * rest is the base URL, a NUL, and the Location (bases that do not parse are skipped).
 * The promises checked: the next URL, when there is one, parses with url_parse, is http
 * or https and carries no userinfo; cross_origin is set exactly when the scheme, host
 * or port changes; a refusal has a class and a message and leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redirect.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {301, 302, 303, 307, 308, 300, 304, 200};
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
    struct redirect_in in;
    struct redirect_out out;
    struct url base, again;
    char *copy, *resolved, msg[256], err[128];
    salvo_err_t rc;

    if (size < 3)
        return 0;
    copy = malloc(size - 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 2, size - 2);
    copy[size - 2] = '\0';
    if (url_parse(copy, &base, err, sizeof err) != SALVO_E_OK) {
        free(copy);
        return 0;
    }
    memset(&in, 0, sizeof in);
    in.url = &base;
    in.method = methods[data[0] >> 6];
    in.status = statuses[data[0] & 7];
    /* After the base's NUL; without one, the terminating NUL: an empty Location. */
    in.location = copy + strlen(copy) + (strlen(copy) < size - 2 ? 1 : 0);
    in.location_conflict = (data[0] & 0x38) == 0x38;
    in.redirects = data[1] % 24;
    in.max_redirs = 20;

    /* url_resolve alone: whatever it returns must be an absolute http(s) URL. */
    resolved = url_resolve(&base, in.location);
    if (resolved != NULL && url_parse(resolved, &again, err, sizeof err) == SALVO_E_OK)
        url_free(&again);
    free(resolved);

    msg[0] = '\0';
    rc = redirect_next(&in, &out, msg, sizeof msg);
    if (rc == SALVO_E_OK) {
        int changed;
        if (out.next == NULL || out.url.host == NULL)
            abort();
        if (url_parse(out.next, &again, err, sizeof err) != SALVO_E_OK)
            abort();
        if (strcmp(again.scheme, "http") != 0 && strcmp(again.scheme, "https") != 0)
            abort();
        if (again.tls != out.url.tls || again.port != out.url.port ||
            strcmp(again.host, out.url.host) != 0)
            abort();
        /* No credentials carried over: userinfo is dropped from the next URL. */
        if (strchr(out.next + strlen(again.scheme) + 3, '@') != NULL &&
            strchr(out.next + strlen(again.scheme) + 3, '@') <
                out.next + strlen(again.scheme) + 3 +
                    strcspn(out.next + strlen(again.scheme) + 3, "/?#"))
            abort();
        changed =
            again.tls != base.tls || again.port != base.port || strcmp(again.host, base.host) != 0;
        if (changed != (out.cross_origin != 0))
            abort();
        url_free(&again);
        redirect_out_free(&out);
    } else {
        if (msg[0] == '\0' || out.next != NULL)
            abort();
        if (rc != SALVO_E_REDIRECT_LIMIT && rc != SALVO_E_BAD_REDIRECT && rc != SALVO_E_RESOURCE)
            abort();
    }
    url_free(&base);
    free(copy);
    return 0;
}
