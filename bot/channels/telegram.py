"""Telegram: updates -> `Inbound` -> dispatcher -> replies, by long polling or through the shared webhook app.

python-telegram-bot does the protocol; this adapter only translates. Each message becomes one tracked
background task (`Runtime.spawn`), so a slow vendor never holds up another user and SIGTERM can wait for
the answers in flight. Arrival order is kept where it matters: a command's pending slot is set before
the next update's task starts.

Groups: the bot stays in privacy mode and acts only when addressed — a command for it, a reply to one of
its messages (the photo prompt is a ForceReply, so replying with the photo is natural), or a command sent
as a reply to a photo, which then reads that photo.

Albums arrive as separate messages sharing a `media_group_id`; they are collected for `album_seconds`
and every photo is answered with the album's kind (its caption, the user's pending command, or the one
button press the first photo asks for).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import ForceReply, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import InvalidToken
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.boxes import boxes_of, draw_boxes
from bot.channels.base import Channel, Runtime, capped_body, say_cut_off
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_photos import PhotoMemory, declared_not_image, make_fetch, photo_key
from bot.channels.telegram_send import Sender, boxes_keyboard, kind_keyboard, set_menus
from bot.models import Kind, Side
from handlers.channel_texts import BOXES_GONE, CHOSEN, NOT_A_PHOTO_COMMANDS, NOT_YOURS, PLATE_WORD
from handlers.dispatch import (
    CHOICE_LABELS,
    COMMANDS,
    OWN_COMMANDS,
    Dispatcher,
    LetGo,
    command_for,
    is_cancel,
    parse_command,
)
from handlers.limits import DEFAULT_DAILY_QUOTA, DEFAULT_RATE_LIMIT, Limits
from handlers.messages import Inbound, Outbound
from handlers.replies import interrupted_text, label

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: An update is a few kilobytes of JSON (a photo is a file id, not its bytes); anything far bigger is not
#: from Telegram, and is refused before it is read whole.
MAX_UPDATE_BYTES = 1024 * 1024
#: Telegram shows a chat action for about 5 s; refresh it a little sooner while a recognition runs.
CHAT_ACTION_EVERY = 4.0


class TelegramSettings(BaseModel):
    """`[telegram]`. No token: the channel is simply not started."""

    model_config = ConfigDict(extra="forbid")

    token: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    #: Public HTTPS URL Telegram posts to (webhook mode); its path is the route on our server.
    webhook_url: str | None = None
    #: Sent by Telegram in X-Telegram-Bot-Api-Secret-Token; requests without it get 403.
    secret_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    #: Empty lists = open to everyone; otherwise a listed user or a listed chat may use the bot.
    allowed_users: list[int] = Field(default_factory=list)
    allowed_chats: list[int] = Field(default_factory=list)
    #: User ids that get /stats (and always pass the allowlists).
    admins: list[int] = Field(default_factory=list)
    #: Recognitions per user per minute (0 = no limit) and per day (0 = no limit); limited by default,
    #: as a bot link forwarded to a crowd can otherwise run up a cloud vendor's bill.
    rate_limit: int = Field(default=DEFAULT_RATE_LIMIT, ge=0)
    daily_quota: int = Field(default=DEFAULT_DAILY_QUOTA, ge=0)
    #: How long a photo waits for its kind (or a command for its photo).
    pending_seconds: float = Field(default=300, gt=0)
    #: How long to wait for the rest of an album after its first photo.
    album_seconds: float = Field(default=1.0, ge=0)
    #: Photos kept in memory for the "show boxes" button (0 = no button) and for how long.
    box_photos: int = Field(default=32, ge=0)
    box_seconds: float = Field(default=600, gt=0)
    #: Bot API requests in flight at once (and connections kept to Telegram).
    max_in_flight: int = Field(default=32, ge=1, le=256)
    #: Long-polling timeout of getUpdates, in seconds.
    poll_timeout: int = Field(default=30, ge=0, le=50)

    @property
    def missing_credentials(self) -> list[str]:
        return [] if self.token else ["token"]

    @property
    def has_credentials(self) -> bool:
        return not self.missing_credentials

    @property
    def served_path(self) -> str | None:
        """The route the channel adds to the server: only a started bot in webhook mode has one."""
        return self.webhook_path if self.has_credentials and self.mode == "webhook" else None

    @field_validator("allowed_users", "allowed_chats", "admins", mode="before")
    @classmethod
    def _ids_from_env(cls, value: Any) -> Any:
        """`LICENCE_BOT_TELEGRAM__ADMINS=1,2` arrives as one string."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> TelegramSettings:
        if self.mode == "webhook" and self.token:
            if not self.webhook_url:
                raise ValueError("mode = 'webhook' needs webhook_url")
            if not self.secret_token:
                raise ValueError("mode = 'webhook' needs secret_token (requests without it are refused)")
        return self

    @property
    def webhook_path(self) -> str:
        """Where Telegram will post: setWebhook registers `webhook_url` exactly as written, so a URL
        without a path is posted to ``/``. Decoded, as the server matches routes on the decoded path
        (``/tg%2Dhook`` arrives as ``/tg-hook``)."""
        return unquote(urlsplit(self.webhook_url or "").path) or "/"


@dataclass
class _Album:
    items: list[Inbound]


@dataclass
class _AlbumRest:
    """Album photos waiting for the kind their first photo asked for."""

    at: float
    items: list[Inbound]


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(
        self, settings: TelegramSettings, runtime: Runtime, application: Application | None = None
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        config = runtime.config
        limits = Limits(
            allowed_users=settings.allowed_users,
            allowed_chats=settings.allowed_chats,
            rate_limit=settings.rate_limit,
            daily_quota=settings.daily_quota,
            timezone=config.bot.timezone,
            store=runtime.session_log,
        )
        # Telegram's own pending time and limits, on the shared recognizer (chains, cache, session log).
        self.dispatcher = Dispatcher(
            runtime.dispatcher.recognizer, pending_seconds=settings.pending_seconds, limiter=limits
        )
        #: The HTTP sessions of an application built here, closed by `stop` whatever PTB does.
        self._requests: tuple[AiohttpRequest, ...] = ()
        self.application = application or self._build_application()
        self.sender = Sender(self.application.bot)
        self.photos = PhotoMemory(settings.box_photos, settings.box_seconds)
        self.admins = {str(admin) for admin in settings.admins}
        self.bot_id = ""
        self.bot_username = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._albums: dict[str, _Album] = {}
        #: An album's other photos waiting for the kind its first asked for, by its sender's session key.
        self._album_rest: dict[tuple[str, str, str], _AlbumRest] = {}
        #: Updates are taken once `start` has run the application (webhook posts before that get 503,
        #: which Telegram retries).
        self._accepting = False

    @classmethod
    def from_config(cls, table: dict[str, Any], runtime: Runtime) -> TelegramChannel | None:
        settings = TelegramSettings.model_validate(table)
        if not settings.has_credentials:
            log.info("telegram: token not set; channel not started")
            return None
        return cls(settings, runtime)

    def _build_application(self) -> Application:
        self._requests = (AiohttpRequest(self.settings.max_in_flight), AiohttpRequest(1))
        builder = (
            Application.builder()
            .token(self.settings.token)
            .base_url(self.settings.base_url)
            .base_file_url(self.settings.base_file_url)
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
        )
        if self.settings.mode == "webhook":
            builder = builder.updater(None)
        application = builder.build()
        application.add_handler(CallbackQueryHandler(self._on_kind_button, pattern=r"^kind:"))
        application.add_handler(CallbackQueryHandler(self._on_boxes_button, pattern=r"^boxes:"))
        application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
        application.add_error_handler(self._on_error)
        return application

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Safe to call again after it failed part way (the server retries a channel that could not
        start): each step it already took is skipped."""
        application = self.application
        try:
            await application.initialize()  # getMe: who we are, to recognise replies and @mentions
        except InvalidToken:
            # python-telegram-bot quotes the token in this error's text, and a wrong base_url (a mirror
            # without /bot) gets the same 404 as a wrong token: the log says which setting to check.
            raise InvalidToken("the Bot API refused the token: check [telegram] token and base_url") from None
        self.bot_id = str(application.bot.id)
        self.bot_username = (application.bot.username or "").lower()
        await set_menus(self.sender, self.runtime.config.bot.language, self.settings.admins)
        if not application.running:
            await application.start()
        self._accepting = True
        if self.settings.mode == "polling":
            assert application.updater is not None
            if not application.updater.running:
                await application.updater.start_polling(
                    timeout=self.settings.poll_timeout, allowed_updates=ALLOWED_UPDATES
                )
        else:
            await self.sender.call(
                lambda: application.bot.set_webhook(
                    self.settings.webhook_url or "",
                    secret_token=self.settings.secret_token,
                    allowed_updates=ALLOWED_UPDATES,
                ),
                "setWebhook",
            )

    async def stop(self) -> None:
        """Stop taking updates, let the answers in flight go out (bounded), then close the HTTP client.

        The bot must outlive its in-flight recognitions (they still have to send their replies), so the
        channel waits for its own work here rather than leaving that to the runtime's drain.
        """
        self._accepting = False
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        while self._tasks:  # album flushes spawn the recognitions they collected
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.runtime.grace_left())
            if pending:
                log.warning("telegram: shutdown cut off %d answers still in flight", len(pending))
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
                break
        await self.dispatcher.let_go_waiting()
        await self._let_go_expired_albums()
        for rest in self._album_rest.values():
            await self.dispatcher.log_let_go(rest.items, LetGo.STOPPED)
        self._album_rest.clear()
        await application.shutdown()
        # PTB shuts down only an application that once initialized; one that never started (Telegram
        # unreachable, a revoked token) still holds the sessions its tries opened.
        for request in self._requests:
            await request.shutdown()

    def routes(self) -> list[BaseRoute]:
        if self.settings.mode != "webhook":
            return []
        return [Route(self.settings.webhook_path, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.secret_token or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return Response(status_code=403)
        if not self._accepting:
            return Response(status_code=503)  # Telegram retries later, after the restart
        body = await capped_body(request, MAX_UPDATE_BYTES)
        if body is None:
            return Response(status_code=413)
        try:
            update = Update.de_json(json.loads(body), self.application.bot)
        except ValueError:
            return Response(status_code=400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # ------------------------------------------------------------------------------------- updates

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None or message.from_user is None:
            return
        inbound = self._inbound(message)
        if inbound is None:
            return
        if message.media_group_id and inbound.has_image:
            self._collect_album(message, inbound)  # the album as a whole decides whether it is for us
            return
        if inbound.chat_type == "group" and not inbound.addressed:
            return
        if _not_a_photo(message, inbound):
            self._spawn(self._refuse(inbound), "telegram-refusal")
            return
        self._spawn(self._answer(inbound), "telegram-message")

    async def _refuse(self, inbound: Inbound) -> None:
        """Say at once that this cannot be read, rather than take its caption's command for a photo to
        come."""
        await self._reply_plain(inbound, NOT_A_PHOTO_COMMANDS[self.dispatcher.language_of(inbound)])

    async def _reply_plain(self, inbound: Inbound, text: str) -> None:
        """`text` as it is (escaped for HTML), in reply to the user's message, without buttons."""
        await self._send_text(int(inbound.chat_id), html.escape(text), inbound.message_id, None)

    def _inbound(self, message: Message) -> Inbound | None:
        """The platform-neutral message, or None when it is not for us (another bot's command)."""
        assert message.from_user is not None
        text = message.text or message.caption or ""
        command_bot = _command_bot(text)
        if command_bot and command_bot != self.bot_username:
            return None
        image_message = message if _has_image(message) else None
        replied = message.reply_to_message
        if image_message is None and command_bot is not None and replied is not None and _has_image(replied):
            image_message = replied  # "/driving" sent as a reply to a photo reads that photo
        chat_type: Literal["private", "group"] = "private" if message.chat.type == "private" else "group"
        # In a group a bare command is ours only when we answer it (privacy mode still delivers other
        # bots' bare commands to us), and a mention only when it names us whole (@licence_bot_backup
        # is another bot).
        own_command = command_bot == self.bot_username or (
            command_bot == "" and parse_command(text)[0] in OWN_COMMANDS
        )
        addressed = (
            chat_type == "private"
            or own_command
            or (
                replied is not None
                and replied.from_user is not None
                and str(replied.from_user.id) == self.bot_id
            )
            or _mentions(text, self.bot_username)
        )
        user_id = str(message.from_user.id)
        chat_id = str(message.chat.id)
        return Inbound(
            platform=PLATFORM,
            chat_id=chat_id,
            user_id=user_id,
            message_id=str(message.message_id),
            chat_type=chat_type,
            text=text,
            fetch_image=self._fetch_for(image_message, photo_key(chat_id, str(message.message_id)), user_id)
            if image_message
            else None,
            language=_app_language(message.from_user),
            addressed=addressed,
            is_admin=user_id in self.admins,
            unusable=_declared_not_image(image_message),
        )

    def _fetch_for(self, message: Message, key: str, user_id: str) -> Any:
        """Downloads `message`'s image, keeping it under `key` (the asking message) for "show boxes"."""
        declared_type = None
        if message.photo:
            file_id, size = message.photo[-1].file_id, message.photo[-1].file_size
        else:
            assert message.document is not None
            file_id, size = message.document.file_id, message.document.file_size
            declared_type = message.document.mime_type
        return make_fetch(
            self.application.bot,
            file_id,
            size,
            lambda data: self.photos.put(key, data, user_id),
            declared_type,
        )

    async def _answer(self, inbound: Inbound, working: bool = False) -> Outbound | None:
        """Dispatch one message and send the reply, showing "typing" while a photo is being read."""
        show_action = working or inbound.has_image
        action = self._keep_showing(inbound.chat_id, ChatAction.TYPING) if show_action else None
        try:
            try:
                outbound = await self.dispatcher.handle(inbound)
            finally:  # before a cut-off is said, too: no "typing…" over "it will not come"
                if action is not None:
                    action.cancel()
        except asyncio.CancelledError:
            # A stop cut it off: `stop` closes the bot's HTTP client only after its cut-off answers end.
            text = interrupted_text(self.dispatcher.language_of(inbound))
            await say_cut_off(PLATFORM, self._reply_plain(inbound, text))
            raise
        if outbound is not None:
            await self._send(outbound, inbound)
            if not inbound.has_image and outbound.outcome is not None:
                # The kind for a waiting photo came (button or typed command): an album's other photos
                # waited for it too.
                await self._release_album_rest(inbound, outbound.outcome.kind, outbound.outcome.side)
            elif not inbound.has_image and is_cancel(inbound.text):
                # Cancelled: the album's other photos go with the photo the dispatcher let go.
                rest = self._album_rest.pop(inbound.session_key, None)
                if rest is not None:
                    await self.dispatcher.log_let_go(rest.items, LetGo.CANCELLED)
        await self._let_go_expired_albums()
        return outbound

    # -------------------------------------------------------------------------------------- albums

    def _collect_album(self, message: Message, inbound: Inbound) -> None:
        key = f"{inbound.chat_id}:{message.media_group_id}"
        album = self._albums.get(key)
        if album is None:
            album = self._albums[key] = _Album(items=[])
            self._spawn(self._flush_album(key), "telegram-album")
        album.items.append(inbound)

    async def _flush_album(self, key: str) -> None:
        await asyncio.sleep(self.settings.album_seconds)
        album = self._albums.pop(key)
        items = sorted(album.items, key=lambda inbound: int(inbound.message_id))
        addressed = any(inbound.addressed for inbound in items)
        items = [replace(inbound, addressed=addressed) for inbound in items]
        command = next((text for inbound in items if (text := _kind_command(inbound.text))), None)
        if command is not None:
            self._answer_all(items, command)
            return
        first, rest = items[0], items[1:]
        outbound = await self._answer(first)
        if outbound is None or not rest:
            return
        if outbound.choices:  # the first photo asked for the kind: the rest follow the button press
            self._album_rest[first.session_key] = _AlbumRest(at=time.monotonic(), items=rest)
        elif outbound.outcome is not None:
            self._answer_all(rest, "/" + command_for(outbound.outcome.kind, outbound.outcome.side))
        else:  # the first could not be fetched: each of the others is a photo of its own
            for inbound in rest:
                self._spawn(self._answer(inbound), "telegram-album-photo")

    async def _release_album_rest(self, asker: Inbound, kind: Kind, side: Side) -> None:
        rest = self._album_rest.pop(asker.session_key, None)
        if rest is None:
            return
        if self._album_expired(rest):
            await self.dispatcher.log_let_go(rest.items, LetGo.EXPIRED)
        else:
            self._answer_all(rest.items, "/" + command_for(kind, side))

    async def _let_go_expired_albums(self) -> None:
        """Log and drop album photos whose kind never came in time (the dispatcher does the same for
        the photos it holds)."""
        expired = [key for key, rest in self._album_rest.items() if self._album_expired(rest)]
        for key in expired:
            await self.dispatcher.log_let_go(self._album_rest.pop(key).items, LetGo.EXPIRED)

    def _album_expired(self, rest: _AlbumRest) -> bool:
        return time.monotonic() - rest.at > self.settings.pending_seconds

    def _answer_all(self, items: list[Inbound], command: str) -> None:
        for inbound in items:
            self._spawn(self._answer(replace(inbound, text=command)), "telegram-album-photo")

    # ------------------------------------------------------------------------------------- buttons

    async def _on_kind_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        _, command, owner = ([*query.data.split(":"), "", ""])[:3]
        presser = str(query.from_user.id)
        if owner and presser != owner:
            text = NOT_YOURS[self._presser_language(query)]
            await self.sender.call(lambda: query.answer(text, show_alert=True), "answerCallbackQuery")
            return
        prompt = query.message
        chat_id = str(prompt.chat.id)
        inbound = Inbound(
            platform=PLATFORM,
            chat_id=chat_id,
            user_id=presser,
            message_id=str(prompt.message_id),
            chat_type="private" if prompt.chat.type == "private" else "group",
            text=f"/{command}",
            language=_app_language(query.from_user),
            addressed=True,
            is_admin=presser in self.admins,
            answers=str(prompt.reply_to_message.message_id) if prompt.reply_to_message else None,
        )
        self._spawn(self._answer_button(query, prompt, inbound, command), "telegram-button")

    async def _answer_button(self, query: Any, prompt: Message, inbound: Inbound, command: str) -> None:
        await self.sender.call(query.answer, "answerCallbackQuery")
        language = self.dispatcher.language_of(inbound)
        chosen = dict(CHOICE_LABELS[language]).get(command, command)
        await self.sender.call(
            lambda: prompt.edit_text(CHOSEN[language].format(label=chosen), reply_markup=None),
            "editMessageText",
        )
        await self._answer(inbound, working=True)  # which releases the album's waiting photos too

    async def _on_boxes_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None or not isinstance(query.message, Message):
            return
        self._spawn(self._send_boxes(query, query.message, query.data.split(":", 1)[1]), "telegram-boxes")

    def _presser_language(self, query: Any) -> str:
        """The language of whoever pressed a button: what they chose with /lang, else their app's."""
        return self.dispatcher.language_for(PLATFORM, str(query.from_user.id), _app_language(query.from_user))

    async def _send_boxes(self, query: Any, message: Message, photo_message_id: str) -> None:
        presser = str(query.from_user.id)
        chat_id = str(message.chat.id)
        kept = self.photos.get(photo_key(chat_id, photo_message_id))
        if kept is None or kept.recognition is None or presser != kept.owner:
            # An alert only the presser sees, so in their language, not the photo's sender's.
            gone = kept is None or kept.recognition is None
            alert = (BOXES_GONE if gone else NOT_YOURS)[self._presser_language(query)]
            await self.sender.call(lambda: query.answer(alert, show_alert=True), "answerCallbackQuery")
            return
        language = kept.language
        await self.sender.call(query.answer, "answerCallbackQuery")
        action = self._keep_showing(chat_id, ChatAction.UPLOAD_PHOTO)
        try:
            boxes = boxes_of(kept.recognition)
            picture = await asyncio.to_thread(draw_boxes, kept.data, boxes)
        finally:
            action.cancel()
        recognition = kept.recognition
        names = [
            PLATE_WORD[language]
            if box.name == "plate"
            else label(recognition.kind, recognition.side, box.name, language)
            for box in boxes
        ]
        caption = " · ".join(f"{index}. {name}" for index, name in enumerate(names, start=1))[:1024]
        await self.sender.call(
            lambda: self.application.bot.send_photo(
                int(chat_id),
                picture,
                caption=caption,
                reply_parameters=ReplyParameters(int(photo_message_id), allow_sending_without_reply=True),
            ),
            "sendPhoto",
        )

    # ------------------------------------------------------------------------------------- sending

    async def _send(self, outbound: Outbound, inbound: Inbound) -> None:
        """Each HTML chunk in order; the first replies to the user's message, the last carries the buttons."""
        markup = self._markup(outbound, inbound)
        last = len(outbound.html) - 1
        for index, chunk in enumerate(outbound.html):
            reply_to = outbound.reply_to if index == 0 else None
            await self._send_text(int(outbound.chat_id), chunk, reply_to, markup if index == last else None)

    async def _send_text(self, chat_id: int, text: str, reply_to: str | None, markup: Any) -> None:
        reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True) if reply_to else None
        await self.sender.call(
            lambda: self.application.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_parameters=reply, reply_markup=markup
            ),
            "sendMessage",
        )

    def _markup(self, outbound: Outbound, inbound: Inbound) -> Any:
        if outbound.choices:
            return kind_keyboard(outbound.choices, inbound.user_id)
        if outbound.outcome is not None:
            return self._boxes_button(outbound, inbound)
        asks_for_photo = not inbound.has_image and parse_command(inbound.text)[0] in COMMANDS
        if inbound.chat_type == "group" and asks_for_photo:
            # Privacy mode hides plain photos from us; a reply to this prompt reaches us.
            return ForceReply(selective=True)
        return None

    def _boxes_button(self, outbound: Outbound, inbound: Inbound) -> Any:
        """Offer the boxes when the vendor gave any and the photo is still in memory; else forget it."""
        if outbound.reply_to is None or outbound.outcome is None:
            return None
        key = photo_key(outbound.chat_id, outbound.reply_to)
        kept = self.photos.get(key)
        recognition = outbound.outcome.recognition
        if kept is None:
            return None
        if recognition is None or not boxes_of(recognition):
            self.photos.discard(key)
            return None
        kept.recognition = recognition
        kept.language = self.dispatcher.language_of(inbound)
        return boxes_keyboard(outbound.reply_to, kept.language)

    def _keep_showing(self, chat_id: str, action: str) -> asyncio.Task[None]:
        async def loop() -> None:
            while True:
                await self.sender.call(
                    lambda: self.application.bot.send_chat_action(int(chat_id), action), "sendChatAction"
                )
                await asyncio.sleep(CHAT_ACTION_EVERY)

        return asyncio.create_task(loop(), name="telegram-chat-action")

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = self.runtime.spawn(work, name)
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error while handling an update", exc_info=context.error)


#: The bot a command names: a username is ASCII letters, digits and underscores, so what follows it
#: without a space (/driving@licence_bot副页) is the command's, not the name's.
_COMMAND_BOT = re.compile(r"/[^\s@]*@([A-Za-z0-9_]+)")


def _command_bot(text: str) -> str | None:
    """For '/cmd@Bot …' the lowered bot name, for '/cmd …' '' (any bot), for anything else None."""
    if not text.startswith("/"):
        return None
    named = _COMMAND_BOT.match(text)
    return named[1].lower() if named else ""


def _mentions(text: str, username: str) -> bool:
    """Whether `text` mentions @`username` (lower case) as a whole name."""
    pattern = rf"@{re.escape(username)}(?![A-Za-z0-9_])"
    return bool(username) and re.search(pattern, text, re.IGNORECASE) is not None


def _has_image(message: Message) -> bool:
    return bool(message.photo) or message.document is not None


#: What Telegram carries besides photos and files; none of it can be read.
_OTHER_MEDIA = (
    "video",
    "video_note",
    "voice",
    "audio",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)


def _not_a_photo(message: Message, inbound: Inbound) -> bool:
    """A video, a sticker, a location…: nothing to read, whatever its caption says."""
    return not inbound.has_image and any(getattr(message, kind, None) for kind in _OTHER_MEDIA)


def _declared_not_image(message: Message | None) -> str | None:
    """ "not_image" for a file Telegram declares to be no image (a PDF, a GIF sent as MP4): the dispatcher
    says so at once when no document was named, and with one the download refuses it (`make_fetch`)."""
    document = message.document if message is not None else None
    return "not_image" if document is not None and declared_not_image(document.mime_type) else None


def _app_language(user: Any) -> str | None:
    """The language a user's Telegram app reports, when it is one the bot speaks besides its default."""
    return "en" if (user.language_code or "").lower().startswith("en") else None


def _kind_command(text: str) -> str | None:
    command, _ = parse_command(text)
    return f"/{command_for(*COMMANDS[command])}" if command in COMMANDS else None
