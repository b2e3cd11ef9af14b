"""The callback signatures: the same verdicts as WeChat's official SDK (wechatpy signs the envelopes
here), reached with a constant-time comparison, and refused before wechatpy's own `!=` runs."""

from __future__ import annotations

import hmac

import pytest
from wechatpy.crypto import WeChatCrypto

from bot.channels import wechat_signature
from bot.channels.wechat_signature import envelope_signature_matches, signature_matches

TOKEN = "callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx0123456789abcdef"
TIMESTAMP, NONCE = "1700000000", "nonce-1"


def envelope(xml: str = "<xml><Content>hi</Content></xml>") -> tuple[bytes, str]:
    """A body and its msg_signature, as wechatpy encrypts and signs them for WeChat."""
    sealed = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, NONCE, TIMESTAMP)
    encrypted = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signed = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return body.encode(), signed


def test_a_signature_made_as_wechat_makes_it_matches_and_any_change_does_not():
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(TOKEN, TIMESTAMP, NONCE)
    good = signer.signature
    assert signature_matches(good, TOKEN, TIMESTAMP, NONCE)
    assert signature_matches(good, TOKEN, NONCE, TIMESTAMP)  # sorted before hashing, as WeChat does
    assert not signature_matches(good, TOKEN, TIMESTAMP, "nonce-2")
    assert not signature_matches(good, "another-token", TIMESTAMP, NONCE)
    assert not signature_matches(good[:-1] + ("0" if good[-1] != "0" else "1"), TOKEN, TIMESTAMP, NONCE)
    assert not signature_matches("", TOKEN, TIMESTAMP, NONCE)
    assert not signature_matches("签名", TOKEN, TIMESTAMP, NONCE)  # not ASCII: refused, not raised


def test_the_envelope_signature_matches_the_official_sdk_and_refuses_a_tampered_envelope():
    body, signed = envelope()
    assert envelope_signature_matches(body, signed, TOKEN, TIMESTAMP, NONCE)
    assert not envelope_signature_matches(body, signed, TOKEN, TIMESTAMP, "nonce-2")
    tampered = body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[A")
    assert not envelope_signature_matches(tampered, signed, TOKEN, TIMESTAMP, NONCE)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml></xml>",
        b"<other><Encrypt>x</Encrypt></other>",
        b"<xml><Encrypt><a/></Encrypt></xml>",
    ],
)
def test_a_body_with_nothing_signed_in_it_never_matches(body):
    assert not envelope_signature_matches(body, "0" * 40, TOKEN, TIMESTAMP, NONCE)


def test_every_verdict_comes_from_a_constant_time_comparison(monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return compare(given, expected)

    monkeypatch.setattr(wechat_signature.hmac, "compare_digest", spy)
    body, signed = envelope()
    assert envelope_signature_matches(body, signed, TOKEN, TIMESTAMP, NONCE)
    assert not signature_matches("f" * 40, TOKEN, TIMESTAMP, NONCE)
    assert [given for given, _ in compared] == [signed.encode(), b"f" * 40]
