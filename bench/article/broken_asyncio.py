#!/usr/bin/python3
"""The broken asyncio version the article warns about.

    broken_asyncio.py URLS [CAFILE] [--resolve HOST:PORT:ADDR]...

It looks concurrent: one coroutine per URL, all gathered with asyncio.gather. But each
coroutine calls requests.get, which blocks the thread, and so the event loop, until its
answer arrives: no other coroutine runs meanwhile, and the URLs are fetched one at a
time, exactly as in the blocking loop. Prints "STATUS URL" or "error NAME: MESSAGE URL",
one line per URL.
"""

import asyncio
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
import requests  # noqa: E402

import pins  # noqa: E402


async def fetch(url, timeout, verify):
    try:
        r = requests.get(url, timeout=timeout, verify=verify)  # blocks the event loop
        print(r.status_code, url)
    except requests.RequestException as e:
        print("error %s: %s %s" % (type(e).__name__, e, url))


async def main(args):
    verify = args.cafile or True
    await asyncio.gather(*(fetch(url, args.timeout, verify) for url in args.url_list))


if __name__ == "__main__":
    a = pins.parse_args(__doc__)
    pins.pin_getaddrinfo(a.pins)
    asyncio.run(main(a))
