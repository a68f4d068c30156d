#!/usr/bin/python3
"""The article's starting point: a blocking loop over the URLs with requests.

    blocking_requests.py URLS [CAFILE] [--resolve HOST:PORT:ADDR]...

One request at a time, each waiting for its answer before the next starts, so the run
takes the sum of every site's time. Prints "STATUS URL" or "error NAME: MESSAGE URL",
one line per URL, in input order.
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
import requests  # noqa: E402

import pins  # noqa: E402


def main():
    args = pins.parse_args(__doc__)
    pins.pin_getaddrinfo(args.pins)
    verify = args.cafile or True
    for url in args.url_list:
        try:
            r = requests.get(url, timeout=args.timeout, verify=verify)
            print(r.status_code, url)
        except requests.RequestException as e:
            print("error %s: %s %s" % (type(e).__name__, e, url))


if __name__ == "__main__":
    main()
