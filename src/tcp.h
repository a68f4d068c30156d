/*
 * tcp.h -- the bottom layer of a connection: a TCP socket as a transport. It holds no
 * buffer of its own (a sender keeps its bytes until the socket takes them), so it never
 * owes anything; it remembers whether the peer closed its side.
 */
#ifndef SALVO_TCP_H
#define SALVO_TCP_H

#include "transport.h"

struct tcp {
    struct transport t; /* first: a struct tcp is a struct transport */
    int fd;             /* borrowed: the connection that embeds this layer owns it */
    int eof;            /* recv saw the peer's FIN */
    int interruptible;  /* a blocking socket: a signal ends a wait (-EINTR) */
};

/* Makes t the transport of fd. interruptible: for blocking sockets, return -EINTR when a
 * signal interrupts a call, so that the caller can notice a cancel. */
void tcp_init(struct tcp *t, int fd, int interruptible);

#endif
