"""A fake WeChat + WeCom API server on 127.0.0.1, and the WeChat side of a callback (signed, encrypted).

The server speaks the few endpoints the bot calls, as WeChat documents them:
- ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` (official account) and
  ``GET /cgi-bin/gettoken?corpid=&corpsecret=`` (WeCom) issue tokens with ``expires_in``; bad credentials
  answer 40013 / 40125 (WeCom: 40013 / 40001).
- ``GET /cgi-bin/media/get?access_token=&media_id=`` serves the image bytes registered with `add_media`
  as ``image/jpeg``; an unknown id answers ``{"errcode": 40007}`` as text/plain, like WeChat.
- ``POST /cgi-bin/message/custom/send`` and ``POST /cgi-bin/message/send`` (WeCom: needs the agent id)
  take UTF-8 JSON text messages, recorded in `sent`.
Every tokened call checks the token: unknown → 40001, expired (`expire_tokens`) → 42001. Errors come
with HTTP 200, as WeChat sends them. Tests queue errcodes or slow answers per endpoint with `script`.

The client side (`CallbackBuilder`) builds what WeChat POSTs to the bot: message XML, the signature
query and, for compatible / safe mode and WeCom, the AES envelope made by wechatpy's own crypto.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import InitVar, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import WeChatSigner

from tests.fakes.http_fake import DEFAULT_BACKLOG, FakeHandler, LoopbackFake, Slow

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40007: "invalid media_id",
    40013: "invalid appid",
    40125: "invalid appsecret",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    81013: "user & party & tag all invalid",
}
ENDPOINTS = ("token", "gettoken", "media", "custom_send", "message_send")


def error(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error") + " rid: 0000-fake"}


@dataclass
class Sent:
    endpoint: str
    touser: str
    content: str
    agentid: int | None = None


@dataclass
class FakeWeChat(LoopbackFake[int | Slow]):
    """Start with ``with FakeWeChat() as fake:``; set `api_base_url` to `fake.url`."""

    app_id: str = "wx0123456789abcdef"
    app_secret: str = "test-app-secret"
    corp_id: str = "ww0123456789abcdef"
    corp_secret: str = "test-corp-secret-0123456789"
    agent_id: int = 1000002
    expires_in: int = 7200
    sent: list[Sent] = field(default_factory=list)
    media_requests: int = 0
    token_requests: int = 0
    _media: dict[str, bytes] = field(default_factory=dict)
    _valid: set[str] = field(default_factory=set)
    _expired: set[str] = field(default_factory=set)
    backlog: InitVar[int] = DEFAULT_BACKLOG

    def __post_init__(self, backlog: int) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-wechat")

    # ------------------------------------------------------------------------------------ scripting

    def add_media(self, data: bytes, media_id: str | None = None) -> str:
        media_id = media_id or "media-" + secrets.token_hex(12)
        with self._lock:
            self._media[media_id] = data
        return media_id

    def script(self, endpoint: str, *answers: int | Slow) -> None:
        """Queue errcodes (or Slow) for `endpoint` (one of ENDPOINTS), used one per request in order."""
        assert endpoint in ENDPOINTS, endpoint
        super().script(endpoint, *answers)

    def expire_tokens(self) -> None:
        with self._lock:
            self._expired |= self._valid
            self._valid.clear()

    def revoke_tokens(self) -> None:
        with self._lock:
            self._valid.clear()

    def texts_to(self, user: str) -> list[str]:
        with self._lock:
            return [item.content for item in self.sent if item.touser == user]

    # ------------------------------------------------------------------------------------- protocol

    def answer(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if path == "/cgi-bin/token" and method == "GET":
            return self._token("token", query)
        if path == "/cgi-bin/gettoken" and method == "GET":
            return self._token("gettoken", query)
        routes = {
            ("GET", "/cgi-bin/media/get"): "media",
            ("POST", "/cgi-bin/message/custom/send"): "custom_send",
            ("POST", "/cgi-bin/message/send"): "message_send",
        }
        endpoint = routes.get((method, path))
        if endpoint is None:
            return _json(error(-1) | {"errmsg": "invalid url"}, status=404)
        with self._lock:
            token = query.get("access_token", "")
            refused = 42001 if token in self._expired else None if token in self._valid else 40001
        if refused is not None:
            return _json(error(refused))
        scripted = self.next_reply(endpoint)
        if isinstance(scripted, Slow):
            if self.wait(scripted.seconds):
                return _json(error(-1))
        elif scripted is not None:
            return _json(error(scripted), content_type="text/plain" if endpoint == "media" else None)
        if endpoint == "media":
            return self._media_get(query)
        return self._send(endpoint, body)

    def _token(self, endpoint: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        with self._lock:
            self.token_requests += 1
        scripted = self.next_reply(endpoint)
        if isinstance(scripted, int):
            return _json(error(scripted))
        if endpoint == "token":
            if query.get("grant_type") != "client_credential" or query.get("appid") != self.app_id:
                return _json(error(40013))
            if query.get("secret") != self.app_secret:
                return _json(error(40125))
        else:
            if query.get("corpid") != self.corp_id:
                return _json(error(40013))
            if query.get("corpsecret") != self.corp_secret:
                return _json(error(40001))
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._valid.add(token)
        answer: dict[str, Any] = {"access_token": token, "expires_in": self.expires_in}
        if endpoint == "gettoken":
            answer = {"errcode": 0, "errmsg": "ok", **answer}
        return _json(answer)

    def _media_get(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        with self._lock:
            self.media_requests += 1
            data = self._media.get(query.get("media_id", ""))
        if data is None:
            return _json(error(40007), content_type="text/plain")
        return 200, "image/jpeg", data

    def _send(self, endpoint: str, body: bytes) -> tuple[int, str, bytes]:
        try:
            payload = json.loads(body.decode("utf-8"))
            content = payload["text"]["content"]
            touser = payload["touser"]
        except (ValueError, KeyError, TypeError):
            return _json({"errcode": 44002, "errmsg": "empty post data"})
        if payload.get("msgtype") != "text" or not isinstance(content, str):
            return _json({"errcode": 40008, "errmsg": "invalid message type"})
        if len(content.encode("utf-8")) > 2048:
            return _json({"errcode": 45002, "errmsg": "content size out of limit"})
        agentid = payload.get("agentid")
        if endpoint == "message_send" and agentid != self.agent_id:
            return _json({"errcode": 40056, "errmsg": "invalid agentid"})
        with self._lock:
            self.sent.append(Sent(endpoint, touser, content, agentid))
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if endpoint == "message_send":
            answer |= {"invaliduser": "", "invalidparty": "", "invalidtag": ""}
        return _json(answer)


def _json(body: dict[str, Any], status: int = 200, content_type: str | None = None) -> tuple[int, str, bytes]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return status, content_type or "application/json; encoding=utf-8", data


class _Handler(FakeHandler["FakeWeChat"]):
    def do_POST(self) -> None:
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        status, content_type, data = self.fake.answer(self.command, split.path, query, self.read_body())
        self.write(status, data, content_type)

    do_GET = do_POST  # the vendor answers both methods on the same routes


# ------------------------------------------------------------------------------- the WeChat side


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def message_xml(
    kind: str,
    user: str,
    *,
    to: str = "gh_fake_account",
    msg_id: int | None = None,
    created: int | None = None,
    content: str = "",
    media_id: str = "",
    event: str = "",
    agent_id: int | None = None,
) -> str:
    """The XML WeChat posts for a text / image message or an event (CDATA as WeChat writes it)."""
    fields = [
        f"<ToUserName><![CDATA[{to}]]></ToUserName>",
        f"<FromUserName><![CDATA[{user}]]></FromUserName>",
        f"<CreateTime>{created or int(time.time())}</CreateTime>",
        f"<MsgType><![CDATA[{kind}]]></MsgType>",
    ]
    if kind == "text":
        fields.append(f"<Content><![CDATA[{content}]]></Content>")
    elif kind == "image":
        fields.append(f"<PicUrl><![CDATA[http://127.0.0.1:9/{media_id}.jpg]]></PicUrl>")
        fields.append(f"<MediaId><![CDATA[{media_id}]]></MediaId>")
    elif kind == "voice":
        fields.append(f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[amr]]></Format>")
    elif kind == "event":
        fields.append(f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey>")
    if kind != "event":
        fields.append(f"<MsgId>{msg_id if msg_id is not None else secrets.randbits(62)}</MsgId>")
    if agent_id is not None:
        fields.append(f"<AgentID>{agent_id}</AgentID>")
    return "<xml>" + "".join(fields) + "</xml>"


@dataclass
class Signed:
    """One callback as WeChat would send it: query parameters and body."""

    params: dict[str, str]
    body: bytes


@dataclass
class CallbackBuilder:
    """Signs (and encrypts) callbacks for an official account (`mode` raw / compatible / safe) or WeCom."""

    token: str
    mode: str = "raw"  # raw | compatible | safe | wecom
    aes_key: str = ""
    receive_id: str = ""  # the app id (official account) or corp id (WeCom)
    clock: Any = time.time

    def fresh(self) -> tuple[str, str]:
        return str(int(self.clock())), secrets.token_hex(5)

    def verification(self, echostr: str = "") -> dict[str, str]:
        """The GET WeChat sends when the URL is saved in the admin console."""
        timestamp, nonce = self.fresh()
        if self.mode == "wecom":  # echostr itself is encrypted, and signed like a message
            crypto = WeComCrypto(self.token, self.aes_key, self.receive_id)
            envelope = crypto.encrypt_message(echostr or "echo-" + nonce, nonce, timestamp)
            return {
                "msg_signature": _between(envelope, "<MsgSignature><![CDATA[", "]]></MsgSignature>"),
                "timestamp": timestamp,
                "nonce": nonce,
                "echostr": _between(envelope, "<Encrypt><![CDATA[", "]]></Encrypt>"),
            }
        return {
            "signature": signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr or "echo-" + nonce,
        }

    def post(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> Signed:
        fresh_timestamp, fresh_nonce = self.fresh()
        timestamp, nonce = timestamp or fresh_timestamp, nonce or fresh_nonce
        if self.mode == "raw":
            params = {
                "signature": signature(self.token, timestamp, nonce),
                "timestamp": timestamp,
                "nonce": nonce,
            }
            params["openid"] = _between(xml, "<FromUserName><![CDATA[", "]]>")
            return Signed(params, xml.encode("utf-8"))
        crypto_class = WeComCrypto if self.mode == "wecom" else WeChatCrypto
        crypto = crypto_class(self.token, self.aes_key, self.receive_id)
        envelope = crypto.encrypt_message(xml, nonce, timestamp)
        encrypted = _between(envelope, "<Encrypt><![CDATA[", "]]></Encrypt>")
        msg_signature = _between(envelope, "<MsgSignature><![CDATA[", "]]></MsgSignature>")
        if self.mode == "wecom":
            body = f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            body += f"<AgentID><![CDATA[1]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
            params = {"msg_signature": msg_signature, "timestamp": timestamp, "nonce": nonce}
            return Signed(params, body.encode("utf-8"))
        if self.mode == "compatible":  # the plaintext fields and the envelope, side by side
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        else:
            body = "<xml><ToUserName><![CDATA[gh_fake_account]]></ToUserName>"
            body += f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        params = {
            "signature": signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": _between(xml, "<FromUserName><![CDATA[", "]]>"),
            "encrypt_type": "aes",
            "msg_signature": msg_signature,
        }
        return Signed(params, body.encode("utf-8"))

    def decrypt_reply(self, body: str, params: dict[str, str] | None = None) -> str:
        """A passive reply as WeChat reads it: decrypted in AES modes, as-is in plaintext mode."""
        if self.mode == "raw" or not body.startswith("<xml>") or "<Encrypt>" not in body:
            return body
        crypto_class = WeComCrypto if self.mode == "wecom" else WeChatCrypto
        crypto = crypto_class(self.token, self.aes_key, self.receive_id)
        timestamp = _between(body, "<TimeStamp>", "</TimeStamp>")
        nonce = _between(body, "<Nonce><![CDATA[", "]]></Nonce>")
        msg_signature = _between(body, "<MsgSignature><![CDATA[", "]]></MsgSignature>")
        return crypto.decrypt_message(body, msg_signature, timestamp, nonce)


def _between(text: str, start: str, end: str) -> str:
    head = text.index(start) + len(start)
    return text[head : text.index(end, head)]


def reply_content(xml: str) -> str:
    """The text of a passive TextReply."""
    return _between(xml, "<Content><![CDATA[", "]]></Content>")
