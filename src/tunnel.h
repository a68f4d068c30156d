/*
 * tunnel.h -- a tunnel through a proxy as a transport layer: over the connection to the
 * proxy (TCP, or TLS to an https:// proxy), its handshake asks the proxy for a byte
 * stream to the target (HTTP CONNECT, or a SOCKS5 CONNECT), then it passes bytes through
 * untouched. The layers above it (TLS to the origin, HTTP) cannot tell a tunnelled
 * connection from a direct one.
 *
 * The handshake is a short exchange of messages, each sent whole, then each answer read
 * whole (never a byte past it: what the proxy sends after its answer is the target's,
 * and is handed up by recv). Works on non-blocking and blocking lower layers alike.
 */
#ifndef SALVO_TUNNEL_H
#define SALVO_TUNNEL_H

#include <stdint.h>

#include "transport.h"

/* The proxy refused or garbled the tunnel: tunnel_error says how. */
#define TUNNEL_EREFUSED (-10001)

/* An HTTP CONNECT tunnel to authority ("host:port", an IPv6 host in brackets) over
 * lower, which it then owns. basic_auth ("Basic ...") is sent as Proxy-Authorization
 * when not NULL. NULL on OOM (lower is then still the caller's). */
struct transport *tunnel_connect_new(struct transport *lower, const char *authority,
                                     const char *basic_auth, const char *user_agent);

/* A SOCKS5 tunnel (RFC 1928) to host:port over lower: host is sent as a name when
 * by_name is set (socks5h), else it must be an IPv4 or IPv6 literal. user is NULL for
 * no authentication, else RFC 1929 username/password is offered too. */
struct transport *tunnel_socks5_new(struct transport *lower, const char *host, int by_name,
                                    uint16_t port, const char *user, const char *pass);

/* After a handshake returned TUNNEL_EREFUSED: a one-line reason; *final is set when the
 * proxy refused in a way that asking again cannot change (a 4xx answer to CONNECT, such
 * as 403 or 407; SOCKS5 credentials or rules refused). */
const char *tunnel_error(const struct transport *t, int *final);

/* Whether t is a tunnel layer. */
int tunnel_is(const struct transport *t);

#endif
