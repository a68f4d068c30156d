#!/usr/bin/python3
"""The article's fix: aiohttp, one session, at most 30 requests in flight.

    aiohttp_fix.py URLS [CAFILE] [--resolve HOST:PORT:ADDR]...

One aiohttp.ClientSession shared by every request, an asyncio.Semaphore(30) around each
request, asyncio.gather over all the URLs: the run takes about ceil(N / 30) times the
time of one slow site. Names are answered from the --resolve pins by a resolver given to
the session's connector (aiohttp's own way to replace DNS); an https URL keeps its name
for SNI and for checking the certificate against CAFILE. Prints "STATUS URL" or
"error NAME: MESSAGE URL", one line per URL, in completion order.
"""

import asyncio
import socket
import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
import aiohttp  # noqa: E402
from aiohttp.abc import AbstractResolver  # noqa: E402

import pins  # noqa: E402

CONCURRENCY = 30


class PinnedResolver(AbstractResolver):
    """Answers from the --resolve pins only, never through the system resolver."""

    def __init__(self, table):
        self.table = table

    async def resolve(self, host, port=0, family=socket.AF_INET):
        addr = pins.lookup(self.table, host, port)
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        return [{"hostname": host, "host": addr, "port": port, "family": fam,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self):
        pass


async def fetch(session, sem, url):
    async with sem:
        try:
            async with session.get(url) as r:
                await r.read()
                print(r.status, url)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            print("error %s: %s %s" % (type(e).__name__, e, url))


async def main(args):
    ctx = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    sem = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(ssl=ctx, resolver=PinnedResolver(args.pins))
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(fetch(session, sem, url) for url in args.url_list))


if __name__ == "__main__":
    asyncio.run(main(pins.parse_args(__doc__)))
