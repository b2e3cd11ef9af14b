"""WeChat official account (公众号) callback: verification, the three message modes, replay protection.

One route (`[wechat] path`) serves WeChat's GET URL check and the POSTed messages in plaintext,
compatible and safe (AES) modes. wechatpy does the XML, the crypto and the passive-reply rendering;
the signatures are compared in constant time first (`wechat_signature`). What happens after
verification (dedupe, background recognition, replies) is shared with WeCom in `wechat_core`.

Every POST carries `signature` over (token, timestamp, nonce), checked first and in every mode so that
nothing unauthenticated reaches the XML parser; AES posts add `msg_signature` over the ciphertext, checked
before wechatpy decrypts it. A request that fails either, or replays a nonce with another body, or
carries a timestamp more than `max_clock_skew_seconds` from now, gets 403 and a log line without its body.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage

from bot.channels.base import Runtime, capped_body
from bot.channels.wechat_api import OfficialAccountAPI, SQLiteSessionStorage
from bot.channels.wechat_core import (
    MAX_CALLBACK_BYTES,
    CallbackChannel,
    Incoming,
    PassiveTiming,
    Refused,
    ReplyMode,
    forbidden,
    success,
)
from bot.channels.wechat_signature import envelope_signature_matches, signature_matches
from handlers.limits import DEFAULT_DAILY_QUOTA, DEFAULT_RATE_LIMIT, Limits

log = logging.getLogger(__name__)


def check_aes_key(key: str) -> str:
    """An EncodingAESKey is 43 base64 characters (32 bytes once WeChat's missing '=' is added)."""
    if not key:
        return key
    try:
        decoded = base64.b64decode(key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be the 43-character EncodingAESKey from the admin console") from None
    if len(key) != 43 or len(decoded) != 32:
        raise ValueError("must be the 43-character EncodingAESKey from the admin console")
    return key


class CallbackSettings(BaseModel):
    """What both WeChat callbacks (official account and WeCom app) are configured with."""

    model_config = ConfigDict(extra="forbid")

    token: str = ""
    encoding_aes_key: str = ""
    path: str
    api_base_url: str
    max_clock_skew_seconds: float = Field(default=300.0, gt=0)
    api_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Who may have photos read (openids, or WeCom user ids); empty = every follower or member.
    allowed_users: list[str] = Field(default_factory=list)
    #: Recognitions per user per minute, and per user per day (0 = no limit): every follower can
    #: otherwise run up a cloud vendor's bill, so an operator who sets nothing still gets a limit.
    rate_limit: int = Field(default=DEFAULT_RATE_LIMIT, ge=0)
    daily_quota: int = Field(default=DEFAULT_DAILY_QUOTA, ge=0)

    #: The keys the channel cannot run without (each platform names its own).
    CREDENTIALS: ClassVar[tuple[str, ...]] = ()

    @property
    def missing_credentials(self) -> list[str]:
        """The credentials that are unset, so a message can name them."""
        return [key for key in self.CREDENTIALS if not getattr(self, key)]

    @property
    def has_credentials(self) -> bool:
        return not self.missing_credentials

    @property
    def served_path(self) -> str | None:
        """The route the channel adds to the server when it starts (None: it does not start)."""
        return self.path if self.has_credentials else None

    def limits(self, runtime: Runtime) -> Limits:
        return Limits(
            allowed_users=self.allowed_users,
            rate_limit=self.rate_limit,
            daily_quota=self.daily_quota,
            timezone=runtime.config.bot.timezone,
            store=runtime.session_log,
        )

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        return check_aes_key(value.strip())

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value


class WeChatSettings(CallbackSettings):
    """`[wechat]`: the official account's developer settings (基本配置) and how replies go out.
    An empty `encoding_aes_key` means plaintext mode; set it for compatible or safe mode."""

    app_id: str = ""
    app_secret: str = ""
    #: `passive` for accounts without the customer-service API (unverified subscription accounts).
    reply_mode: ReplyMode = "customer_service"
    path: str = "/wechat"
    api_base_url: str = "https://api.weixin.qq.com"

    CREDENTIALS: ClassVar[tuple[str, ...]] = ("token", "app_id", "app_secret")


class WeChatChannel(CallbackChannel):
    name: ClassVar[str] = "wechat"
    platform: ClassVar[str] = "wechat"

    def __init__(
        self,
        settings: WeChatSettings,
        runtime: Runtime,
        *,
        api: OfficialAccountAPI | None = None,
        timing: PassiveTiming | None = None,
        wall_clock: Any = time.time,
    ) -> None:
        api = api or OfficialAccountAPI(
            settings.app_id,
            settings.app_secret,
            SQLiteSessionStorage(runtime.session_log),
            settings.api_base_url,
            timeout=settings.api_timeout_seconds,
        )
        super().__init__(
            runtime,
            api,
            reply_mode=settings.reply_mode,
            timing=timing,
            max_skew=settings.max_clock_skew_seconds,
            wall_clock=wall_clock,
            limiter=settings.limits(runtime),
        )
        self.settings = settings
        self.crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key
            else None
        )

    @classmethod
    def from_config(cls, table: dict[str, Any], runtime: Runtime) -> WeChatChannel | None:
        settings = WeChatSettings.model_validate(table)
        if not settings.has_credentials:
            log.info("wechat: %s not set; channel not started", ", ".join(settings.missing_credentials))
            return None
        return cls(settings, runtime)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.settings.path, self.callback, methods=["GET", "POST"])]

    async def callback(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        query = request.query_params
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not signature_matches(query.get("signature", ""), self.settings.token, timestamp, nonce):
            return forbidden(self.platform, "bad signature", client)
        if request.method == "GET":
            return self._verify_url(timestamp, query.get("echostr", ""), client)

        body = await capped_body(request, MAX_CALLBACK_BYTES)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            if self.crypto is None:
                return forbidden(
                    self.platform, "encrypted callback but no encoding_aes_key configured", client
                )
            msg_signature = query.get("msg_signature", "")
            if not envelope_signature_matches(body, msg_signature, self.settings.token, timestamp, nonce):
                return forbidden(self.platform, "bad msg_signature", client)
            try:
                xml = self.crypto.decrypt_message(body, msg_signature, timestamp, nonce)
            except InvalidSignatureException:
                return forbidden(self.platform, "bad msg_signature", client)
            except InvalidAppIdException:
                return forbidden(self.platform, "message for another app id", client)
            except Exception:  # broken base64, padding or XML: a wrong EncodingAESKey looks the same
                return forbidden(self.platform, "cannot decrypt (check encoding_aes_key)", client)
        elif self.crypto is not None:
            # With a key set the account is in safe or compatible mode, where WeChat encrypts every
            # message. A plaintext POST is signed only over (token, timestamp, nonce), which a URL check
            # also carries: taking it would let a replayed signature post as any openid.
            return forbidden(self.platform, "plaintext callback, but encoding_aes_key is set", client)
        else:
            xml = body.decode("utf-8", errors="replace")
        read = self.read_message(xml, body, timestamp, nonce, client, parse_message)
        if isinstance(read, Response):
            return read
        stamp, message = read
        try:
            reply = await self.respond(incoming_from(message), stamp)
        except Refused as refused:
            return forbidden(self.platform, str(refused), client)
        if reply is None:
            return success()
        return self._passive_reply(reply, message, encrypted)

    def _verify_url(self, timestamp: str, echostr: str, client: str) -> Response:
        """The admin console's URL check: echo `echostr` back (the signature was checked already)."""
        try:
            self.guard.check_fresh(timestamp)
        except Refused as refused:
            return forbidden(self.platform, str(refused), client)
        return PlainTextResponse(echostr)

    def _passive_reply(self, text: str, message: BaseMessage, encrypted: bool) -> Response:
        xml = create_reply(text, message).render()
        if encrypted and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, secrets.token_hex(8), str(int(time.time())))
        return Response(xml, media_type="application/xml")


def incoming_from(message: BaseMessage) -> Incoming:
    """The shared flow's view of a parsed message. Events have no MsgId: WeChat's own dedupe key for
    them is the sender plus the creation time."""
    user = str(message.source or "")
    kind = message.type
    if kind == "unknown" and getattr(message, "_data", {}).get("MsgType") == "event":
        kind = "event"  # an event wechatpy has no class for (WeCom's change_contact, a template card's)
    if kind == "event":
        event = str(getattr(message, "event", "") or "")
        key = f"{user}:{message.time}:{event}"
        if event.startswith("subscribe"):
            return Incoming(key=key, user=user, kind="subscribe")
        return Incoming(key=key, user=user, kind="ignored")
    key = str(message.id) if message.id else f"{user}:{message.time}:{kind}"
    if kind == "text":
        return Incoming(key=key, user=user, kind="text", text=str(message.content or ""))
    if kind == "image":
        return Incoming(key=key, user=user, kind="image", media_id=str(message.media_id or ""))
    return Incoming(key=key, user=user, kind="unsupported")
