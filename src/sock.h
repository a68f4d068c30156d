/*
 * sock.h -- small helpers for non-blocking TCP sockets (the role of Redis's anet.c).
 * Every function returns 0 or a non-negative count on success and -errno on failure;
 * none of them blocks. The caller owns the fds they return.
 */
#ifndef SALVO_SOCK_H
#define SALVO_SOCK_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* An IPv4 or IPv6 address with its port, in 28 bytes where a struct sockaddr_storage
 * takes 128: thousands are held at once (DNS answers waiting for delivery, the
 * addresses of every connect race), and salvo connects to nothing else. */
union sock_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* Creates a non-blocking, close-on-exec TCP socket for sa's family and starts connecting.
 * Returns the fd (the connect may still be in progress: wait for writability, then call
 * sock_connect_result) or -errno when the socket or the connect failed at once. */
int sock_connect(const struct sockaddr *sa, socklen_t len);

/* The outcome of a non-blocking connect: 0, or -errno from SO_ERROR. */
int sock_connect_result(int fd);

/* send() with MSG_NOSIGNAL, retried on EINTR. Returns bytes sent, -EAGAIN, or -errno. */
ssize_t sock_send(int fd, const void *p, size_t n);

/* recv() retried on EINTR. Returns bytes (0 at EOF), -EAGAIN, or -errno. */
ssize_t sock_recv(int fd, void *p, size_t n);

/* Formats the address (without port) into out; "" on failure. */
void sock_addr_str(const struct sockaddr *sa, char *out, size_t outlen);

/* socklen_t for an AF_INET or AF_INET6 address. */
socklen_t sock_addr_len(const struct sockaddr *sa);

#endif
