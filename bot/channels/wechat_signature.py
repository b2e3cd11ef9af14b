"""WeChat's and WeCom's callback signatures, compared in constant time.

Both platforms sign a callback with the SHA-1 of the token and the request's parts, sorted and joined
(`signature` over timestamp and nonce; `msg_signature` adds the AES envelope's `Encrypt`). wechatpy
checks them with `!=`, which returns at the first character that differs, so a forger who fixes the
timestamp and nonce could learn the expected signature a character at a time from response times.
The channels check here first, with `hmac.compare_digest`, and refuse a mismatch; wechatpy's own check
then only ever sees a signature that matches. The signing itself stays wechatpy's (`WeChatSigner`), so
both checks hash the same bytes.
"""

from __future__ import annotations

import hmac

import xmltodict
from wechatpy.utils import WeChatSigner


def signature_matches(given: str, token: str, *parts: str) -> bool:
    """Whether `given` is the signature of `token` with `parts`."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return hmac.compare_digest(given.encode(), signer.signature.encode())


def envelope_signature_matches(body: bytes, given: str, token: str, timestamp: str, nonce: str) -> bool:
    """Whether `given` signs the AES envelope in `body`. An envelope that is not XML with an `Encrypt`
    element cannot match: there is nothing signed to check. Parsed as wechatpy parses it on decryption,
    so both read the same `Encrypt`."""
    try:
        encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
    except Exception:  # not XML, no <xml> root, or no Encrypt: all the same to a forger
        return False
    if not isinstance(encrypt, str):
        return False
    return signature_matches(given, token, timestamp, nonce, encrypt)
