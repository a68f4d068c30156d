/*
 * sock.c -- non-blocking TCP socket helpers. See sock.h.
 */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

int sock_connect(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -errno;
    /* Requests are small and written at once: Nagle would only delay them. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    do {
        rc = connect(fd, sa, len);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int sock_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

ssize_t sock_send(int fd, const void *p, size_t n)
{
    ssize_t k;
    do {
        /* MSG_NOSIGNAL: a peer that closed must give EPIPE, not kill the process. */
        k = send(fd, p, n, MSG_NOSIGNAL);
    } while (k < 0 && errno == EINTR);
    if (k < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return k;
}

ssize_t sock_recv(int fd, void *p, size_t n)
{
    ssize_t k;
    do {
        k = recv(fd, p, n, 0);
    } while (k < 0 && errno == EINTR);
    if (k < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return k;
}

/* "a.b.c.d" into out (INET_ADDRSTRLEN bytes at least). By hand: glibc's inet_ntop formats
 * an IPv4 address with sprintf, which costs more than the rest of opening a connection's
 * bookkeeping, and a run formats one or two per connection. */
static void ipv4_str(const struct in_addr *in, char *out)
{
    const unsigned char *b = (const unsigned char *)&in->s_addr; /* network order */
    char *w = out;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (i > 0)
            *w++ = '.';
        if (v >= 100)
            *w++ = (char)('0' + v / 100);
        if (v >= 10)
            *w++ = (char)('0' + v / 10 % 10);
        *w++ = (char)('0' + v % 10);
    }
    *w = '\0';
}

void sock_addr_str(const struct sockaddr *sa, char *out, size_t outlen)
{
    const void *a = NULL;
    if (sa->sa_family == AF_INET && outlen >= INET_ADDRSTRLEN) {
        ipv4_str(&((const struct sockaddr_in *)sa)->sin_addr, out);
        return;
    }
    if (sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)outlen) == NULL) {
        if (outlen > 0)
            out[0] = '\0';
    }
}

socklen_t sock_addr_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}
