"""Name pins for the article's programs, the equivalent of curl's and salvo's --resolve.

The bench never lets a client resolve a name through the system resolver: every name
the programs meet is pinned to a loopback address by a --resolve HOST:PORT:ADDR
argument, and an address literal in a URL passes as it is. Anything else is an error.
"""

import argparse
import ipaddress
import socket


def parse_args(doc):
    """The command line shared by the three programs."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("urls", help="file of URLs, one a line")
    p.add_argument("cafile", nargs="?", help="CA bundle to trust for https URLs")
    p.add_argument("--resolve", action="append", default=[], metavar="HOST:PORT:ADDR",
                   help="pin HOST on PORT to ADDR (repeatable), as curl --resolve")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")
    a = p.parse_args()
    a.pins = {}
    for pin in a.resolve:
        host, port, addr = pin.split(":", 2)
        a.pins[(host.lower(), int(port))] = addr.strip("[]")
    with open(a.urls) as f:
        a.url_list = [line.strip() for line in f if line.strip()]
    return a


def lookup(pins, host, port):
    """The address of HOST:PORT: its pin, or HOST itself when it is an address literal."""
    addr = pins.get((host.lower().rstrip("."), int(port)))
    if addr is not None:
        return addr
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host.strip("[]")
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "%s:%s is not pinned (--resolve)" % (host, port))


def pin_getaddrinfo(pins):
    """Makes socket.getaddrinfo answer from the pins only (requests and urllib3 resolve
    through it); the address it is given is numeric, so no resolver is consulted."""
    numeric = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if isinstance(host, bytes):
            host = host.decode()
        addr = lookup(pins, host, port)
        return numeric(addr, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    socket.getaddrinfo = getaddrinfo
