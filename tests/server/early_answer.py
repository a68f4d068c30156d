#!/usr/bin/env python3
"""A keep-alive HTTP peer that answers each request as soon as its headers arrive,
before reading its body (as a server sending an early 401 or 413 does), then reads on.

It writes its port to PORTFILE and, to LOGFILE, one line per request it saw:
    "conn N request LINE clean"        the first request of connection N
    "conn N request LINE after-body"   a request written behind the first one's body on
                                       the same connection
A client that reuses a connection whose first body was never fully sent produces
"after-body": its next request runs into the leftover body, a desynchronised stream. Loopback only; it exits
after 20 s or when killed.

usage: early_answer.py PORTFILE LOGFILE
"""
import os
import socket
import sys
import threading
import time


def serve(conn, n, log):
    conn.settimeout(5)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(1 << 16)
            if not data:
                return
            buf += data
        line = buf.split(b"\r\n", 1)[0].decode("latin-1")
        log.write("conn %d request %s clean\n" % (n, line))
        log.flush()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        # Whatever follows is the rest of that body (zeros, in the tests), or a request
        # written behind it on the same connection.
        while True:
            data = conn.recv(1 << 16)
            if not data:
                return
            for verb in (b"GET /", b"POST /"):
                k = data.find(verb)
                if k >= 0:
                    line = data[k:].split(b"\r\n", 1)[0].decode("latin-1")
                    log.write("conn %d request %s after-body\n" % (n, line))
                    log.flush()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except (socket.timeout, ConnectionError):
        return
    finally:
        conn.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    log = open(sys.argv[2], "w")
    srv.settimeout(20)
    n = 0
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            break
        n += 1
        threading.Thread(target=serve, args=(conn, n, log), daemon=True).start()


if __name__ == "__main__":
    main()
