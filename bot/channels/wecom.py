"""WeCom (企业微信) self-built app callback: always encrypted; replies through `message/send`.

The GET URL check carries an encrypted `echostr` that must be decrypted and echoed; every POST is an
AES envelope whose `msg_signature` is checked in constant time (`wechat_signature`) before wechatpy
decrypts it (ReceiveId = corp id). After that the
flow is the official account's (`wechat_core`): dedupe, immediate media download, background
recognition, and the reply by API message with the app's agent id, so the five-second rule never bites.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from wechatpy.enterprise import create_reply, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage

from bot.channels.base import Runtime, capped_body
from bot.channels.wechat import CallbackSettings, incoming_from
from bot.channels.wechat_api import SQLiteSessionStorage, WeComAPI
from bot.channels.wechat_core import MAX_CALLBACK_BYTES, CallbackChannel, Refused, forbidden, success
from bot.channels.wechat_signature import envelope_signature_matches, signature_matches

log = logging.getLogger(__name__)


class WeComSettings(CallbackSettings):
    """`[wecom]`: the app's credentials (应用管理 → 自建应用) and its API receive settings
    (always encrypted, so `encoding_aes_key` is required)."""

    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    path: str = "/wecom"
    api_base_url: str = "https://qyapi.weixin.qq.com"

    CREDENTIALS: ClassVar[tuple[str, ...]] = ("corp_id", "agent_id", "secret", "token", "encoding_aes_key")


class WeComChannel(CallbackChannel):
    name: ClassVar[str] = "wecom"
    platform: ClassVar[str] = "wecom"

    def __init__(self, settings: WeComSettings, runtime: Runtime, *, api: WeComAPI | None = None) -> None:
        api = api or WeComAPI(
            settings.corp_id,
            settings.agent_id,
            settings.secret,
            SQLiteSessionStorage(runtime.session_log),
            settings.api_base_url,
            timeout=settings.api_timeout_seconds,
        )
        super().__init__(
            runtime,
            api,
            reply_mode="customer_service",
            max_skew=settings.max_clock_skew_seconds,
            limiter=settings.limits(runtime),
        )
        self.settings = settings
        self.crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.corp_id)

    @classmethod
    def from_config(cls, table: dict[str, Any], runtime: Runtime) -> WeComChannel | None:
        settings = WeComSettings.model_validate(table)
        if not settings.has_credentials:
            log.info("wecom: %s not set; channel not started", ", ".join(settings.missing_credentials))
            return None
        return cls(settings, runtime)

    def routes(self) -> list[BaseRoute]:
        return [Route(self.settings.path, self.callback, methods=["GET", "POST"])]

    async def callback(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        query = request.query_params
        signature = query.get("msg_signature", "")
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if request.method == "GET":
            return self._verify_url(signature, timestamp, nonce, query.get("echostr", ""), client)
        body = await capped_body(request, MAX_CALLBACK_BYTES)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        if not envelope_signature_matches(body, signature, self.settings.token, timestamp, nonce):
            return forbidden(self.platform, "bad msg_signature", client)
        try:
            xml = self.crypto.decrypt_message(body, signature, timestamp, nonce)
        except InvalidSignatureException:
            return forbidden(self.platform, "bad msg_signature", client)
        except InvalidCorpIdException:
            return forbidden(self.platform, "message for another corp id", client)
        except Exception:  # not an envelope, broken base64 or padding: a wrong key looks the same
            return forbidden(self.platform, "cannot decrypt (check encoding_aes_key)", client)
        read = self.read_message(xml, body, timestamp, nonce, client, parse_message)
        if isinstance(read, Response):
            return read
        stamp, message = read
        agent = getattr(message, "agent", 0)
        if agent and agent != self.settings.agent_id:
            log.warning(
                "wecom: message for agent %s, configured for %s; ignored", agent, self.settings.agent_id
            )
            return success()
        try:
            reply = await self.respond(incoming_from(message), stamp)
        except Refused as refused:
            return forbidden(self.platform, str(refused), client)
        return success() if reply is None else self._passive_reply(reply, message)

    def _verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str, client: str) -> Response:
        try:
            self.guard.check_fresh(timestamp)
        except Refused as refused:
            return forbidden(self.platform, str(refused), client)
        if not signature_matches(signature, self.settings.token, timestamp, nonce, echostr):
            return forbidden(self.platform, "bad msg_signature", client)
        try:
            plain = self.crypto.check_signature(signature, timestamp, nonce, echostr)
        except InvalidSignatureException:
            return forbidden(self.platform, "bad msg_signature", client)
        except Exception:
            return forbidden(
                self.platform, "cannot decrypt echostr (check encoding_aes_key / corp_id)", client
            )
        return PlainTextResponse(plain)

    def _passive_reply(self, text: str, message: BaseMessage) -> Response:
        """Immediate answers (welcome, help, an undelivered reply collected) go back in the callback."""
        xml = create_reply(text, message).render()
        encrypted = self.crypto.encrypt_message(xml, secrets.token_hex(8), str(int(time.time())))
        return Response(encrypted, media_type="application/xml")
