#!/usr/bin/env python3
"""tls_peer.py -- a small HTTP/1.1-over-TLS server (standard library only) for salvo's tests of
how a TLS connection may end: with or without close_notify, after or before the end
of the body.

    tls_peer.py serve --cert PEM --key KEY --port-file FILE
    tls_peer.py probe PORT PATH

`serve` listens on 127.0.0.1 (a free port, written to FILE once it listens) and answers
every connection by the request path, one mode per path; N is the body size, the body
is byte i = "abcdefghijklmnopqrstuvwxyz\\n"[i % 27] (as the project's testd):

    /cl/N            Content-Length: N, the whole body, then TCP close, no close_notify
    /chunked/N       chunked, the whole body and the last chunk, then close, no close_notify
    /cl-short/N      Content-Length: N, only N/2 bytes, then close, no close_notify
    /close/N         HTTP/1.1 200 with no length (close-delimited), then close, no close_notify
    /close-notify/N  the same, but close_notify (SSLSocket.unwrap) before the TCP close
    /ka/N            Content-Length: N, the whole body; the connection stays open for the
                     next request (keep-alive)
    /stray/N         as /ka/N, then at once, in a TLS record of its own, an unrequested
                     second response (200, Content-Length: 6, "stray\\n"); the connection
                     stays open, and later requests on it get their own answers. Both
                     records leave in one TCP segment (TCP_CORK), so a client reads the
                     stray bytes together with the answer it asked for

Why closing without unwrap() sends no close_notify: CPython's SSLSocket.close() only
closes the file descriptor, and the SSL object is later freed with SSL_free(), which
never writes; close_notify is written only by SSL_shutdown(), which CPython calls from
unwrap() alone. `probe` proves it on the wire rather than by this argument: it fetches
PATH as a client with OpenSSL's strict EOF handling and prints "close_notify" or
"no close_notify" (and the body length), so a test can assert which one the peer did.

Every socket has a timeout, so no connection thread lives long; the process lives
until it is killed. Runs on Python 3.9 and later: an EOF without close_notify raises
ssl.SSLEOFError on some builds and a plain ssl.SSLError (reason
UNEXPECTED_EOF_WHILE_READING) on others, such as Debian's 3.11, so it is told by reason.
"""
import argparse
import os
import socket
import ssl
import sys
import threading

PATTERN = b"abcdefghijklmnopqrstuvwxyz\n"
TIMEOUT = 5.0  # seconds for any one socket operation
REQUEST_MAX = 64 * 1024


def body(n):
    reps = n // len(PATTERN) + 1
    return (PATTERN * reps)[:n]


STRAY = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstray\n"

# What happens to the connection after an answer.
CLOSE, CLOSE_NOTIFY, KEEP = "close", "close_notify", "keep"


def read_request(tls, buf):
    """Returns the request path, or None when no complete request head arrived. buf (a
    bytearray) keeps what follows the head for the next call; request bodies are not
    expected and are not skipped."""
    while b"\r\n\r\n" not in buf and len(buf) < REQUEST_MAX:
        chunk = tls.recv(4096)
        if not chunk:
            return None
        buf += chunk
    head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
    buf[:] = rest
    parts = head.split(b"\r\n", 1)[0].split()
    return parts[1].decode("ascii", "replace") if sep and len(parts) >= 2 else None


def is_eof_error(e):
    """An EOF without close_notify, whichever class this Python reports it with."""
    if isinstance(e, ssl.SSLEOFError):
        return True
    return getattr(e, "reason", None) == "UNEXPECTED_EOF_WHILE_READING"


def reply(tls, path):
    """Sends the answer PATH asks for; returns CLOSE, CLOSE_NOTIFY or KEEP."""
    _, mode, n = (path.split("/") + ["", ""])[:3]
    size = int(n) if n.isdigit() else 1000
    data = body(size)
    if mode in ("ka", "stray"):
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + data
        if mode == "ka":
            tls.sendall(answer)
            return KEEP
        tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        try:
            tls.sendall(answer)  # one TLS record (or more) for the answer...
            tls.sendall(STRAY)  # ...and one of its own for the stray response
        finally:
            tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)  # both leave now
        return KEEP
    if mode == "cl":
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + data)
    elif mode == "cl-short":
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + data[: size // 2])
    elif mode == "chunked":
        out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
        for i in range(0, size, 1000):
            piece = data[i : i + 1000]
            out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
        out.append(b"0\r\n\r\n")
        tls.sendall(b"".join(out))
    elif mode in ("close", "close-notify"):
        tls.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + data)
        return CLOSE_NOTIFY if mode == "close-notify" else CLOSE
    else:
        tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return CLOSE


def handle(ctx, conn):
    conn.settimeout(TIMEOUT)
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError):
        conn.close()
        return
    buf = bytearray()
    try:
        # Bounded: every recv has a timeout, and a client that stops sending ends it.
        while True:
            path = read_request(tls, buf)
            if path is None:
                break
            end = reply(tls, path)
            if end == CLOSE_NOTIFY:
                plain = tls.unwrap()  # sends close_notify (and waits for the client's)
                plain.close()
                return
            if end == CLOSE:
                break
    except (OSError, ssl.SSLError):
        pass
    tls.close()  # no SSL_shutdown: the TCP close comes without close_notify


def serve(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args.port_file)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=handle, args=(ctx, conn), daemon=True).start()


def probe(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Strict: an EOF without close_notify must raise, never read as a clean end.
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    raw = socket.create_connection(("127.0.0.1", int(args.port)), timeout=TIMEOUT)
    tls = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
    tls.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % args.path.encode())
    got = b""
    verdict = "close_notify"
    try:
        while len(got) < 64 * 1024 * 1024:
            chunk = tls.recv(65536)
            if not chunk:
                break
            got += chunk
    except ssl.SSLError as e:
        if not is_eof_error(e):
            raise
        verdict = "no close_notify"
    tls.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    print(verdict, len(rest))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--port-file", required=True)
    p = sub.add_parser("probe")
    p.add_argument("port")
    p.add_argument("path")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        probe(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
