"""Inbound -> which command, which kind and page, the pending photo or command, and the reply.

A chat user may send the command first and then the photo, the photo first and then the command, or
both at once (a caption). Either half waits in a per-user pending slot for `pending_seconds`; in groups
we only act when addressed, and mask personal data unless the config says otherwise.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.models import Kind, Side
from handlers.messages import Inbound, Outbound
from handlers.outcome import Outcome, Status
from handlers.recognize import Context, Recognizer, Request
from handlers.replies import (
    ReplyOptions,
    help_text,
    history_text,
    render_html,
    render_text,
    stats_text,
    unusable_text,
)

#: Every way a user can name a document: slash commands, Chinese words (WeChat has no slash commands),
#: English words. Longer words first so 驾驶证副页 is not read as 驾驶证.
COMMANDS: dict[str, tuple[Kind, Side]] = {
    "driving_back": ("driving", "back"),
    "vehicle_back": ("vehicle", "back"),
    "driving": ("driving", "front"),
    "vehicle": ("vehicle", "front"),
    "plate": ("plate", "front"),
    "驾驶证副页": ("driving", "back"),
    "驾照副页": ("driving", "back"),
    "行驶证副页": ("vehicle", "back"),
    "驾驶证主页": ("driving", "front"),
    "行驶证主页": ("vehicle", "front"),
    "驾驶证": ("driving", "front"),
    "驾照": ("driving", "front"),
    "行驶证": ("vehicle", "front"),
    "车牌": ("plate", "front"),
    "车牌号": ("plate", "front"),
}
HELP_WORDS = {"start", "help", "帮助", "?", "？"}
HISTORY_WORDS = {"history", "记录"}
CANCEL_WORDS = {"cancel", "取消"}
#: What a user may type as its first word, without a slash (WeChat has no slash commands).
_WORDS = frozenset({*COMMANDS, *HELP_WORDS, *HISTORY_WORDS, *CANCEL_WORDS})
#: Every command the bot answers: in a group, a bare ``/weather`` is for another bot, not a call for help.
OWN_COMMANDS = _WORDS | {"lang", "stats"}
#: Whole English phrases for a page.
_ENGLISH_NAMES = {
    "driving licence": "driving",
    "vehicle licence": "vehicle",
    "licence plate": "plate",
    "driving back": "driving_back",
    "vehicle back": "vehicle_back",
}
CHOICE_LABELS = {
    "zh": [
        ("driving", "驾驶证"),
        ("driving_back", "驾驶证副页"),
        ("vehicle", "行驶证"),
        ("vehicle_back", "行驶证副页"),
        ("plate", "车牌"),
    ],
    "en": [
        ("driving", "Driving licence"),
        ("driving_back", "Driving licence (back)"),
        ("vehicle", "Vehicle licence"),
        ("vehicle_back", "Vehicle licence (back)"),
        ("plate", "Plate"),
    ],
}
ASK_KIND = {
    "zh": "收到照片。请选择要识别的证件：",
    "en": "Got the photo. Which document is it?",
}
SEND_PHOTO = {
    "zh": "请发送{name}的照片。",
    "en": "Please send a photo of the {name}.",
}
#: In a group the bot sees only what is addressed to it (Telegram's privacy mode), so a plain photo
#: after the prompt would go unseen.
SEND_PHOTO_IN_GROUP = {
    "zh": "请发送{name}的照片（在群里请回复本条消息发送）。",
    "en": "Please send a photo of the {name} (in a group, as a reply to this message).",
}
LANGUAGE_SET = {"zh": "已切换为中文。", "en": "Replies are now in English."}
_COMMAND_RE = re.compile(r"^/(?P<name>[A-Za-z_-]+)(?P<page>[主副]页)?(?:\s+(?P<arg>\S+))?")
_PAGE_AFTER_SPACE = re.compile(r"^(\S+)\s+([主副]页)")
#: A mention (@licence_bot), or the bot named after a command (/driving@licence_bot). A username is
#: ASCII letters, digits and underscores, so `\w` (which takes Chinese) would swallow the word written
#: straight after it: @licence_bot驾驶证.
_MENTION = re.compile(r"@[A-Za-z0-9_]+(?:\s*[,，:：])*")
_BACK_WORDS = {"副页", "back"}
#: Words that switch the reply language where chats have no slash commands (WeChat, WeCom): the word
#: `lang en` works too, and /lang en everywhere.
_LANGUAGE_WORDS = {"english": "en", "英文": "en", "中文": "zh", "chinese": "zh"}
#: Photos a user may leave waiting for their kinds at once; older ones beyond this are let go.
MAX_WAITING_PHOTOS = 8
#: How often half-requests past `pending_seconds` are swept out. A user who never comes back would
#: otherwise keep theirs for good, and on WeChat a waiting photo holds its downloaded bytes.
SWEEP_SECONDS = 60.0


class LetGo(StrEnum):
    """Why a waiting photo ended without a kind: its session row's error_category (status
    "unanswered")."""

    EXPIRED = "expired"  # nobody named one within `pending_seconds`
    CANCELLED = "cancelled"  # the user sent 取消 / cancel
    SUPERSEDED = "superseded"  # newer photos pushed it out of the queue
    STOPPED = "stopped"  # the service stopped while it waited


#: Commands answered on their own: a photo sent with one as its caption waits for its kind.
_ANSWERED_WITHOUT_THE_PHOTO = frozenset({*HELP_WORDS, *HISTORY_WORDS, "lang", "stats"})


class Limiter(Protocol):
    """Decides whether a user may start another recognition now (rate limit, daily quota, allowlist)."""

    def check(self, inbound: Inbound) -> str | None:
        """None to go ahead, else the reject reason (rate_limited, quota_exceeded, not_allowed)."""


@dataclass
class Pending:
    """Half of a request waiting for the other half: a photo awaiting its kind, or a kind awaiting a photo."""

    at: float
    inbound: Inbound | None = None
    kind: Kind | None = None
    side: Side = "front"
    #: Photos sent after `inbound` before any kind came (the main page, then the 副页): each waits its
    #: turn for a kind of its own, oldest first, instead of replacing the one before.
    later: list[Inbound] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        recognizer: Recognizer,
        *,
        pending_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        limiter: Limiter | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.limiter = limiter
        self.pending_seconds = pending_seconds
        self._clock = clock
        self._pending: dict[tuple[str, str, str], Pending] = {}
        self._swept = clock()
        self._languages: dict[tuple[str, str], str] = {}
        #: Photos that ended without a kind, each with why, to be logged once the message at hand is
        #: answered.
        self._let_go: list[tuple[Inbound, LetGo]] = []

    def language_of(self, inbound: Inbound) -> str:
        return self.language_for(inbound.platform, inbound.user_id, inbound.language)

    def language_for(self, platform: str, user_id: str, hint: str | None = None) -> str:
        """A user's language: the one they chose with /lang, else their app's (`hint`), else the bot's."""
        chosen = self._languages.get((platform, user_id))
        if chosen:
            return chosen
        if hint in ("zh", "en"):
            return hint
        return self.recognizer.config.bot.language

    async def handle(self, inbound: Inbound) -> Outbound | None:
        """Decide and answer one message; None means stay silent (an unaddressed group message)."""
        try:
            return await self._handle(inbound)
        finally:
            await self._log_let_go()

    async def let_go_waiting(self) -> None:
        """On a stop, once the work in flight is done: log every photo still waiting for its kind.
        Waiting photos live in memory, so after a restart the kind a user sends finds none; the log
        says why (STOPPED, or EXPIRED for one whose time ran out before, on a bot too quiet to sweep)."""
        self._let_go_expired(self._clock())
        for pending in self._pending.values():
            self._let_go_all(pending, LetGo.STOPPED)
        self._pending = {}
        await self._log_let_go()

    async def log_let_go(self, photos: list[Inbound], reason: LetGo) -> None:
        """Log photos a channel kept waiting for a kind itself (an album's other photos) and let go."""
        self._let_go.extend((photo, reason) for photo in photos)
        await self._log_let_go()

    async def _handle(self, inbound: Inbound) -> Outbound | None:
        self._sweep_expired()
        if inbound.chat_type == "group" and not inbound.addressed:
            return None
        language = self.language_of(inbound)
        command, argument = parse_command(inbound.text)

        if inbound.has_image and command in _ANSWERED_WITHOUT_THE_PHOTO:
            # A photo captioned /help or /history: answered as asked, and the photo waits for its kind
            # rather than being dropped.
            self._wait_for_kind(inbound, self._take_pending(inbound))
        if command in HELP_WORDS:
            return self._say(inbound, help_text(language, words=not inbound.slash_commands))
        if command == "lang":
            return self._set_language(inbound, argument)
        if command in HISTORY_WORDS:
            return await self._history(inbound, language)
        if command == "stats" and inbound.is_admin:
            stats = await asyncio.to_thread(self.recognizer.session_log.stats)
            return self._say(inbound, stats_text(stats, language))
        if command in CANCEL_WORDS:
            self._let_go_all(self._pending.pop(inbound.session_key, None), LetGo.CANCELLED)
            return self._say(inbound, "已取消。" if language == "zh" else "Cancelled.")

        request = COMMANDS.get(command or "")
        pending = self._take_pending(inbound)
        if inbound.has_image and request:
            if pending is not None and pending.inbound is not None:
                self._pending[inbound.session_key] = pending  # an earlier photo still waits for its kind
            return await self._recognize(inbound, *request)
        if inbound.has_image:
            if pending is not None and pending.kind is not None:
                return await self._recognize(inbound, pending.kind, pending.side)
            if inbound.unusable is not None:
                if pending is not None:
                    self._pending[inbound.session_key] = pending  # earlier photos keep waiting
                # As the recognition would have logged the failed download, had a kind been named.
                failed = Status.VENDOR_ERROR if inbound.unusable == "download" else Status.BAD_IMAGE
                context = self._context(inbound)
                await self.recognizer.log_unread(context, failed, inbound.unusable, inbound.received_at)
                return self._say(inbound, unusable_text(inbound.unusable, language))
            self._wait_for_kind(inbound, pending)
            return self._ask_kind(inbound, language)
        if request:
            if pending is not None and pending.inbound is not None:
                waiting = [pending.inbound, *pending.later]
                # The photo the answer names (a button under its prompt), else the oldest.
                photo = next((one for one in waiting if one.message_id == inbound.answers), waiting[0])
                rest = [one for one in waiting if one is not photo]
                if rest:  # the others keep waiting, counted from now
                    self._pending[inbound.session_key] = Pending(self._clock(), rest[0], later=rest[1:])
                return await self._recognize(photo, *request)
            self._pending[inbound.session_key] = Pending(at=self._clock(), kind=request[0], side=request[1])
            name = dict(CHOICE_LABELS[language])[command_for(*request)]
            prompt = SEND_PHOTO_IN_GROUP if inbound.chat_type == "group" else SEND_PHOTO
            return self._say(inbound, prompt[language].format(name=name))
        if pending is not None:  # unrelated text: keep waiting
            self._pending[inbound.session_key] = pending
        if inbound.chat_type == "group" and command is None:
            return None
        return self._say(inbound, help_text(language, words=not inbound.slash_commands))

    def _context(self, photo: Inbound) -> Context:
        return Context(
            platform=photo.platform,
            chat_id=photo.chat_id,
            chat_type=photo.chat_type,
            user_id=photo.user_id,
            message_id=photo.message_id,
            language=self.language_of(photo),
        )

    async def _recognize(self, photo: Inbound, kind: Kind, side: Side) -> Outbound:
        language = self.language_of(photo)
        request = Request(kind=kind, side=side, fetch=photo.fetch_image, context=self._context(photo))
        # In a thread: a daily quota is counted in SQLite, which may wait on another process's write.
        refusal = await asyncio.to_thread(self.limiter.check, photo) if self.limiter is not None else None
        if refusal is not None:
            outcome = await self.recognizer.reject(request, refusal)
        else:
            outcome = await self.recognizer.recognize(request)
        return self.render(outcome, photo, language)

    def render(self, outcome: Outcome, photo: Inbound, language: str) -> Outbound:
        mask = photo.chat_type == "group" and self.recognizer.config.bot.mask_in_groups
        options = ReplyOptions(language=language, mask=mask, words=not photo.slash_commands)
        return Outbound(
            chat_id=photo.chat_id,
            text=render_text(outcome, options),
            html=render_html(outcome, options),
            reply_to=photo.message_id,
            outcome=outcome,
        )

    async def _history(self, inbound: Inbound, language: str) -> Outbound:
        """Only the asking user's own sessions on this platform: never another group member's, and in a
        group only those sent there, so the group never learns what the user read in private."""
        chat = inbound.chat_id if inbound.chat_type == "group" else None
        rows = await asyncio.to_thread(
            self.recognizer.session_log.history,
            user_id=inbound.user_id,
            platform=inbound.platform,
            chat_id=chat,
            limit=10,
        )
        zone = ZoneInfo(self.recognizer.config.bot.timezone)
        return self._say(inbound, history_text(rows, language, zone))

    def _wait_for_kind(self, photo: Inbound, pending: Pending | None) -> None:
        """Leave `photo` waiting for its kind, behind the photos already waiting (a waiting kind, which
        this photo did not take, is let go)."""
        if pending is not None and pending.inbound is not None:
            if photo is pending.inbound or photo in pending.later:  # queued already (captioned /stats)
                self._pending[photo.session_key] = pending
                return
            waiting = [*pending.later, photo]
            pushed_out = 1 + len(waiting) - MAX_WAITING_PHOTOS  # `pending.inbound` is waiting too
            if pushed_out > 0:
                self._let_go.extend((one, LetGo.SUPERSEDED) for one in waiting[:pushed_out])
                waiting = waiting[pushed_out:]
            self._pending[photo.session_key] = Pending(pending.at, pending.inbound, later=waiting)
        else:
            self._pending[photo.session_key] = Pending(at=self._clock(), inbound=photo)

    def _sweep_expired(self) -> None:
        now = self._clock()
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        self._let_go_expired(now)

    def _let_go_expired(self, now: float) -> None:
        live: dict[tuple[str, str, str], Pending] = {}
        for key, half in self._pending.items():
            if now - half.at <= self.pending_seconds:
                live[key] = half
            else:
                self._let_go_all(half, LetGo.EXPIRED)
        self._pending = live

    def _take_pending(self, inbound: Inbound) -> Pending | None:
        pending = self._pending.pop(inbound.session_key, None)
        if pending is not None and self._clock() - pending.at > self.pending_seconds:
            self._let_go_all(pending, LetGo.EXPIRED)
            return None
        return pending

    def _let_go_all(self, pending: Pending | None, reason: LetGo) -> None:
        """Note the photos of `pending` (none, if it was a kind waiting for a photo) as ended unread."""
        if pending is not None and pending.inbound is not None:
            self._let_go.extend((one, reason) for one in [pending.inbound, *pending.later])

    async def _log_let_go(self) -> None:
        """Log each photo let go unread since the last message: why it ended is in its session row."""
        let_go, self._let_go = self._let_go, []
        for photo, reason in let_go:
            context = self._context(photo)
            await self.recognizer.log_unread(context, Status.UNANSWERED, reason, photo.received_at)

    def _ask_kind(self, inbound: Inbound, language: str) -> Outbound:
        outbound = self._say(inbound, ASK_KIND[language])
        outbound.choices = list(CHOICE_LABELS[language])
        return outbound

    def _set_language(self, inbound: Inbound, argument: str | None) -> Outbound:
        argument = (argument or "").lower()
        if argument not in ("zh", "en"):
            return self._say(inbound, "用法 / usage: /lang zh|en")
        self._languages[(inbound.platform, inbound.user_id)] = argument
        return self._say(inbound, LANGUAGE_SET[argument])

    @staticmethod
    def _say(inbound: Inbound, text: str) -> Outbound:
        return Outbound(
            chat_id=inbound.chat_id, text=[text], html=[html.escape(text)], reply_to=inbound.message_id
        )


def is_cancel(text: str) -> bool:
    """Whether `text` asks to cancel (取消 / cancel): channels that keep photos waiting themselves (a
    Telegram album's others) let those go too."""
    return parse_command(text)[0] in CANCEL_WORDS


def parse_command(text: str) -> tuple[str | None, str | None]:
    """'/driving@licence_bot' -> ('driving', None); '/lang en' -> ('lang', 'en'); '驾驶证副页' -> itself."""
    # A group message names the bot before or after its word (@licence_bot 驾驶证, 驾驶证@licence_bot);
    # which bot was meant is the channel's to decide. A full-width slash is a slash.
    text = " ".join(_MENTION.sub(" ", text or "").split()).replace("／", "/")
    if not text:
        return None, None
    match = _COMMAND_RE.match(text)
    if match:
        name, argument = match["name"].lower().replace("-", "_"), match["arg"]
        back = match["page"] == "副页" or (argument or "").lower() in _BACK_WORDS
        if name in ("driving", "vehicle") and back:  # /driving 副页, /driving副页, /driving-back
            return f"{name}_back", None
        return name, argument
    text = _PAGE_AFTER_SPACE.sub(r"\1\2", text)  # "驾驶证 副页" is 驾驶证副页, not the main page
    if text.lower() in _ENGLISH_NAMES:
        return _ENGLISH_NAMES[text.lower()], None
    words = text.lower().split()
    if len(words) == 1 and words[0] in _LANGUAGE_WORDS:  # the whole message: "Chinese plate" is no switch
        return "lang", _LANGUAGE_WORDS[words[0]]
    if words[0] == "lang":
        return "lang", words[1] if len(words) > 1 else None
    return (words[0], None) if words[0] in _WORDS else (None, None)


def command_for(kind: Kind, side: Side) -> str:
    """The slash command that asks for this page (the first ASCII name in COMMANDS)."""
    return next(name for name, target in COMMANDS.items() if target == (kind, side) and name.isascii())
