"""The proxy for a URL, from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), looked up once per host.

aiohttp can read these itself (`trust_env`), but it does so on every request: an environment scan, a
NO_PROXY check and a .netrc lookup, about 0.7 ms a call, which under a burst was a third of the CPU of
a Telegram update. The environment does not change while the bot runs, so the answer is cached per
scheme and host, with the standard library's reading of the variables (lower case wins, as in curl).
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass


@functools.lru_cache(maxsize=64)
def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL to reach `scheme://host` through, or None to connect directly."""
    if host and proxy_bypass(host):
        return None
    return getproxies().get(scheme)


def proxy_for_url(url: str) -> str | None:
    parts = urlsplit(url)
    return proxy_for(parts.scheme, parts.hostname or "")
