/*
 * base64.h -- RFC 4648 base64, for HTTP Basic credentials (RFC 7617): to a server
 * (salvo_basic_auth, the command line's -u) and to a proxy (proxy.c).
 */
#ifndef SALVO_BASE64_H
#define SALVO_BASE64_H

#include <stddef.h>

/* The length of the encoding of n bytes, without the NUL. */
static inline size_t base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Writes the encoding of n bytes at p and a NUL to out, which holds base64_len(n) + 1
 * bytes. */
void base64_encode(const void *p, size_t n, char *out);

#endif
