"""What the official-account and WeCom channels share once a callback is verified and decrypted.

WeChat gives a callback five seconds, then drops the connection and sends the same message again, three
tries in all. A recognition takes longer, so the design follows from that rule:

- every message is claimed by its key in SQLite (`claim_inbound`) before any work: a retry, even one
  that reaches a restarted process or another worker, is recognized and never processed twice. In
  customer-service mode the claim runs in the background task (this process remembers keys it has
  seen, to answer retries at once), so no SQLite write ever delays the callback's `success`;
- the media is downloaded at once (WeChat deletes user media after three days), and the dispatcher runs
  as tracked background work (`runtime.spawn`);
- `customer_service` mode answers `success` at once and delivers the result by API message;
- `passive` mode (accounts without that API) holds each try for most of its window and answers in it
  when the result is ready; the third try, if still too early, tells the user to send any text, and
  the result waits in the outbox until they do.

Replies that could not be delivered (45015 window passed, 45047 count limit, 45009 quota) also go to
the outbox, so a user who writes again still gets them. The outbox is in memory on purpose: replies
hold personal data, which the session log keeps only as `store_fields` allows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from starlette.responses import PlainTextResponse, Response
from wechatpy.messages import BaseMessage

from bot.channels.base import Channel, Runtime, say_cut_off
from bot.channels.wechat_api import WeChatAPIError, _TokenedAPI
from bot.images import ImageRejected
from handlers.channel_texts import COLLECT_LATER, FAILED, MORE_WAITING, NOT_A_PHOTO, PICK_HINT, WELCOME, pick
from handlers.dispatch import HELP_WORDS, Dispatcher, Limiter, parse_command
from handlers.messages import Inbound, Outbound
from handlers.replies import WECHAT_TEXT_LIMIT_BYTES, help_text, interrupted_text

log = logging.getLogger(__name__)

ReplyMode = Literal["customer_service", "passive"]
IncomingKind = Literal["text", "image", "subscribe", "unsupported", "ignored"]

#: Callbacks bigger than this are not WeChat messages (an image message is well under 2 KB).
MAX_CALLBACK_BYTES = 256 * 1024
#: Replies and delivery records are kept this long for a user to collect (WeChat's reply window).
OUTBOX_SECONDS = 48 * 3600
#: Delivery records in the kv (errcode of a reply that could not be sent), for the operator.
DELIVERY_RECORD_SECONDS = 7 * 24 * 3600
#: How long this process remembers a message key, answering its retries without asking SQLite.
SEEN_SECONDS = 600.0
#: How often the outbox and the numbered offers drop what has expired. Each checks its own expiry
#: when its user comes back; a user who never does would otherwise keep theirs for good, and an
#: outbox holds a whole reply with its personal data.
SWEEP_SECONDS = 60.0
_DIGIT = re.compile(r"^\s*([1-9])\s*$")


def split_utf8(text: str, limit: int = WECHAT_TEXT_LIMIT_BYTES) -> list[str]:
    """Cut `text` into pieces of at most `limit` UTF-8 bytes, at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > limit:  # one line alone too long: cut by characters
            cut = len(line)
            while len(line[:cut].encode("utf-8")) > limit:
                cut -= max(1, (len(line[:cut].encode("utf-8")) - limit) // 4)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [piece.rstrip("\n") for piece in pieces if piece.strip()]


# -------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Incoming:
    """One verified, decrypted callback message in the terms the shared flow needs."""

    key: str
    user: str
    kind: IncomingKind
    text: str = ""
    media_id: str = ""


@dataclass
class PassiveTiming:
    """WeChat waits `wechat_timeout` s per try; we answer by `window` s or let the try lapse."""

    window: float = 4.5
    wechat_timeout: float = 5.0
    tries: int = 3


# -------------------------------------------------------------------------------------- small stores


class Refused(Exception):
    """The callback cannot be trusted; the message is the reason logged with the 403 (never the body)."""


@dataclass(frozen=True)
class Stamp:
    """A request's (timestamp, nonce) and a digest of its body: what a replay would repeat."""

    key: str
    digest: str


class ReplayGuard:
    """Refuses a timestamp far from now, and a nonce seen before with a different body.

    The same nonce with the same body is let through: that is indistinguishable from WeChat's own retry
    of a message, and the message-key claim makes it harmless (processed once, answered once).

    Two levels, so the check costs the callback no SQLite write: `check` answers from this process's
    memory (a replay to the same process gets its 403 at once), and `check_shared` consults the kv that
    every worker and a restarted process share; customer-service mode runs it in the background before
    any work, so a replay that reaches another worker is dropped (and logged) instead.
    """

    def __init__(self, runtime: Runtime, platform: str, max_skew: float, clock: Callable[[], float]) -> None:
        self.runtime = runtime
        self.platform = platform
        self.max_skew = max_skew
        self._clock = clock
        self._recent: dict[str, tuple[str, float]] = {}  # key -> (digest, forget at)

    def check_fresh(self, timestamp: str) -> None:
        """`Refused` for a timestamp that is not a number or too far from now (URL checks use this alone)."""
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Refused("timestamp is not a number") from None
        if abs(self._clock() - sent_at) > self.max_skew:
            raise Refused("timestamp too far from now")

    def check(self, timestamp: str, nonce: str, body: bytes) -> Stamp:
        """The request's stamp, or `Refused` for a stale timestamp or a nonce reused in this process."""
        self.check_fresh(timestamp)
        now = self._clock()
        if not nonce or len(nonce) > 64:
            raise Refused("missing or oversized nonce")
        stamp = Stamp(f"{self.platform}:nonce:{timestamp}:{nonce}", hashlib.sha256(body).hexdigest()[:32])
        seen = self._recent.get(stamp.key)
        if seen is not None and seen[0] != stamp.digest:
            raise Refused("nonce reused with another body")
        if len(self._recent) > 50_000:
            self._recent = {key: entry for key, entry in self._recent.items() if entry[1] > now}
        self._recent[stamp.key] = (stamp.digest, now + 2 * self.max_skew)
        return stamp

    async def check_shared(self, stamp: Stamp) -> None:
        """`Refused` when another process (or this one before a restart) saw the nonce with another body."""
        seen = await asyncio.to_thread(self._remember, stamp)
        if seen is not None and seen != stamp.digest:
            raise Refused("nonce reused with another body")

    def _remember(self, stamp: Stamp) -> str | None:
        store = self.runtime.session_log
        seen = store.kv_get(stamp.key)
        if seen is None:
            store.kv_set(stamp.key, stamp.digest, ttl_seconds=2 * self.max_skew + 60)
        return seen


@dataclass
class _Box:
    chunks: list[str] = field(default_factory=list)
    at: float = 0.0


class Outbox:
    """Replies waiting for the user's next callback, per user, in memory (they hold personal data)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, limit: int = WECHAT_TEXT_LIMIT_BYTES
    ) -> None:
        self._boxes: dict[str, _Box] = {}
        self._clock = clock
        self._limit = limit
        self._changed = asyncio.Condition()
        self._swept = clock()

    async def put(self, user: str, chunks: list[str]) -> None:
        async with self._changed:
            now = self._clock()
            if now - self._swept >= SWEEP_SECONDS:
                self._swept = now
                self._boxes = {key: box for key, box in self._boxes.items() if now - box.at <= OUTBOX_SECONDS}
            box = self._boxes.setdefault(user, _Box())
            box.chunks.extend(chunks)
            box.at = self._clock()
            self._changed.notify_all()

    def has(self, user: str) -> bool:
        box = self._boxes.get(user)
        if box is not None and self._clock() - box.at > OUTBOX_SECONDS:
            del self._boxes[user]
            return False
        return box is not None and bool(box.chunks)

    async def wait(self, user: str, timeout: float) -> bool:
        """Wait up to `timeout` s for something to deliver to `user`."""
        if timeout <= 0:
            return self.has(user)
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self.has(user)), timeout)
            except TimeoutError:
                return self.has(user)
        return True

    def take(self, user: str, more_hint: str) -> str | None:
        """As much as fits one passive reply (2048 bytes); `more_hint` ends it when chunks remain."""
        if not self.has(user):
            return None
        box = self._boxes[user]
        whole = "\n\n".join(box.chunks)
        if _size(whole) <= self._limit:
            del self._boxes[user]
            return whole
        hint = "\n" + more_hint
        taken = [box.chunks.pop(0)]
        while box.chunks and _size("\n\n".join([*taken, box.chunks[0]]) + hint) <= self._limit:
            taken.append(box.chunks.pop(0))
        if not box.chunks:
            del self._boxes[user]
        text = "\n\n".join(taken)
        return text + hint if box.chunks and _size(text + hint) <= self._limit else text


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


class Choices:
    """The numbered document kinds last offered to a user, so "2" can stand for the second one."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._offered: dict[str, tuple[float, list[str]]] = {}
        self._swept = clock()

    def offer(self, user: str, commands: list[str]) -> None:
        now = self._clock()
        if now - self._swept >= SWEEP_SECONDS:
            self._swept = now
            self._offered = {key: offer for key, offer in self._offered.items() if now - offer[0] <= self.ttl}
        self._offered[user] = (now, commands)

    def resolve(self, user: str, text: str) -> str:
        """The command a bare digit stands for (the offer is then used up), or `text` unchanged."""
        resolved = self.peek(user, text)
        if resolved != text:
            del self._offered[user]
        return resolved

    def peek(self, user: str, text: str) -> str:
        """What `resolve` would give, leaving the offer in place."""
        match = _DIGIT.match(text)
        offered = self._offered.get(user)
        if match is None or offered is None:
            return text
        at, commands = offered
        index = int(match.group(1)) - 1
        if self._clock() - at > self.ttl or index >= len(commands):
            return text
        return commands[index]


# --------------------------------------------------------------------------------------------- channel


@dataclass
class _Tries:
    first_seen: float
    count: int = 1
    #: The answer given at once (help, welcome), given again to a retry: WeChat retries when that
    #: answer did not reach it in time, and nothing else will come.
    instant: str | None = None


class CallbackChannel(Channel):
    """The flow after verification, shared by the official account and WeCom channels.

    Subclasses verify and decode the callback into an `Incoming`, call `respond`, and turn the text it
    returns (a passive reply) into the platform's XML, or answer `success` when it returns None.
    """

    platform: ClassVar[str]

    def __init__(
        self,
        runtime: Runtime,
        api: _TokenedAPI,
        *,
        reply_mode: ReplyMode = "customer_service",
        timing: PassiveTiming | None = None,
        max_skew: float = 300.0,
        wall_clock: Callable[[], float] = time.time,
        limiter: Limiter | None = None,
    ) -> None:
        self.runtime = runtime
        self.api = api
        # This channel's own limits (allowlist, rate, daily quota) on the shared recognizer.
        shared = runtime.dispatcher
        self.dispatcher = Dispatcher(
            shared.recognizer, pending_seconds=shared.pending_seconds, limiter=limiter
        )
        self.reply_mode = reply_mode
        self.timing = timing or PassiveTiming()
        self.guard = ReplayGuard(runtime, self.platform, max_skew, wall_clock)
        self.outbox = Outbox()
        self.choices = Choices(ttl=shared.pending_seconds)
        self._tries: dict[str, _Tries] = {}
        self._seen: dict[str, float] = {}
        self._busy: Counter[str] = Counter()
        #: Each user's latest message in progress: the next one waits for it, so one user's messages are
        #: handled in the order they arrived ("驾驶证" then the photo); different users run concurrently.
        self._latest: dict[str, asyncio.Future[None]] = {}
        #: Messages processed / replies sent, for tests and benchmarks to compare with what arrived.
        self.processed = 0
        self.sent = 0

    # -- lifecycle

    async def start(self) -> None:
        """Webhook only: nothing to connect. The HTTP pool opens on first use, inside the loop."""

    async def stop(self) -> None:
        """Webhook only: uvicorn has already stopped taking callbacks."""

    async def aclose(self) -> None:
        """After the runtime drained in-flight work, whose replies still needed the HTTP pool: photos
        still waiting for their kind are logged as let go (work in flight could still queue one)."""
        await self.dispatcher.let_go_waiting()
        await self.api.aclose()

    # -- the flow

    def read_message(
        self,
        xml: str,
        body: bytes,
        timestamp: str,
        nonce: str,
        client: str,
        parse: Callable[[str], BaseMessage | None],
    ) -> tuple[Stamp, BaseMessage] | Response:
        """After signature and decryption: the replay check, then the XML. A Response is the refusal
        to send back (403 for a replay, 400 for XML wechatpy cannot read)."""
        try:
            stamp = self.guard.check(timestamp, nonce, body)
        except Refused as refused:
            return forbidden(self.platform, str(refused), client)
        try:
            message = parse(xml)
        except Exception:
            log.warning("%s: unreadable message XML from %s", self.platform, client)
            return PlainTextResponse("bad request", status_code=400)
        if message is None:
            return PlainTextResponse("bad request", status_code=400)
        return stamp, message

    async def respond(self, incoming: Incoming, stamp: Stamp) -> str | None:
        """Handle one verified message; the text to reply passively now, or None for `success`.

        Raises `Refused` (→ 403) for a replay the shared nonce store reveals in passive mode.
        """
        if incoming.kind == "ignored":
            return None
        if self.passive:
            return await self._respond_passive(incoming, stamp)
        # Customer-service mode: no SQLite on the callback path, so `success` goes back at once even
        # while 50 recognitions are being logged. The claim in SQLite still decides, in the background,
        # whether the work happens: a retry that reaches another worker or a restarted process is dropped.
        if not self._first_sight(incoming.key):
            return None
        immediate = self._immediate(incoming)
        if immediate is not None:
            if self._also_a_command(incoming):
                self._start(incoming, stamp)  # its answer follows by the API, which this message reopened
            return immediate
        self._start(incoming, stamp)
        return None

    def _also_a_command(self, incoming: Incoming) -> bool:
        """Whether a text answered at once (with a reply that was waiting for it) asked for something
        too (驾驶证, 记录, a number from the list offered): it must not be swallowed by the collection.
        Help needs nothing more: it is the immediate answer itself."""
        if incoming.kind != "text":
            return False
        command = parse_command(self.choices.peek(incoming.user, incoming.text))[0]
        return command is not None and command not in HELP_WORDS

    async def _respond_passive(self, incoming: Incoming, stamp: Stamp) -> str | None:
        # WeChat's clock for this try starts now, not after the SQLite calls below (slow under a busy
        # write lock): a reply is only ever handed to a try WeChat is still waiting for.
        arrived = asyncio.get_running_loop().time()
        first = await self._recorded_first(incoming, stamp)
        # This process's own memory of the tries too: with SQLite failing, every try counts as first.
        if not first or incoming.key in self._tries:
            return await self._retry(incoming, arrived)
        self._forget_old_tries()
        tries = self._tries[incoming.key] = _Tries(first_seen=time.monotonic())
        immediate = self._immediate(incoming)
        if immediate is not None:
            tries.instant = immediate
            return immediate
        if incoming.kind == "text" and self._busy[incoming.user] and parse_command(incoming.text)[0] is None:
            return await self._hold(incoming, 1, arrived)  # "any text" while the result is on its way
        self._start(incoming, None)
        return await self._hold(incoming, 1, arrived)

    def _immediate(self, incoming: Incoming) -> str | None:
        """Answers that need no recognition: they go back in the callback itself (no API quota)."""
        language = self._language(incoming.user)
        if incoming.kind == "subscribe":
            return pick(WELCOME, language) + "\n" + help_text(language, words=True)
        if incoming.kind == "unsupported":
            return pick(NOT_A_PHOTO, language)
        if incoming.kind == "text":
            waiting = self.outbox.take(incoming.user, pick(MORE_WAITING, language))
            if waiting is not None:
                return waiting
            if parse_command(incoming.text)[0] in HELP_WORDS:
                return help_text(language, words=True)
        return None

    def _first_sight(self, key: str) -> bool:
        now = time.monotonic()
        if key in self._seen:
            return False
        if len(self._seen) > 50_000:
            horizon = now - SEEN_SECONDS
            self._seen = {seen: at for seen, at in self._seen.items() if at > horizon}
        self._seen[key] = now
        return True

    @property
    def passive(self) -> bool:
        return self.reply_mode == "passive"

    async def _retry(self, incoming: Incoming, arrived: float) -> str | None:
        """WeChat's retry of a message already claimed: never processed again, answered at most once."""
        tries = self._tries.get(incoming.key)
        if tries is None:  # claimed before a restart, or by another worker
            return None
        tries.count += 1
        if tries.instant is not None:
            return tries.instant
        return await self._hold(incoming, tries.count, arrived)

    async def _hold(self, incoming: Incoming, try_number: int, arrived: float) -> str | None:
        """Answer within this try's window (from its arrival) if a reply is ready; else let the try
        lapse (WeChat retries), or on the last try tell the user how to collect the result. A reply
        is taken from the outbox only inside the window: one taken for a try WeChat had given up on
        would be lost."""
        loop = asyncio.get_running_loop()
        language = self._language(incoming.user)
        deadline = arrived + self.timing.window
        await self.outbox.wait(incoming.user, deadline - loop.time())
        if loop.time() <= deadline:
            ready = self.outbox.take(incoming.user, pick(MORE_WAITING, language))
            if ready is not None:
                return ready
        if try_number >= self.timing.tries:
            return pick(COLLECT_LATER, language)
        # Outlive WeChat's wait so that it drops this try and sends the next one.
        await asyncio.sleep(max(0.0, arrived + self.timing.wechat_timeout + 0.5 - loop.time()))
        return None

    def _start(self, incoming: Incoming, stamp: Stamp | None) -> None:
        """Process in the background; with a `stamp`, first the shared replay check and the claim."""
        self._busy[incoming.user] += 1
        previous = self._latest.get(incoming.user)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._latest[incoming.user] = done
        work = self._process(incoming, stamp, previous, done)
        task = self.runtime.spawn(work, name=f"{self.platform}-{incoming.key}")
        if task is None:
            done.set_result(None)  # shutting down: the claim stands, so say so rather than stay silent
            self._busy[incoming.user] -= 1
            log.warning(
                "%s: message %s arrived during shutdown and was not processed", self.platform, incoming.key
            )
            return

    async def _process(
        self,
        incoming: Incoming,
        stamp: Stamp | None,
        previous: asyncio.Future[None] | None,
        done: asyncio.Future[None],
    ) -> None:
        """Download, dispatch, deliver. Every path ends in a reply the user sees."""
        language = self._language(incoming.user)
        reply_to = incoming.key
        handling = False
        try:
            if stamp is not None and not await self._claim(incoming, stamp):
                return
            if previous is not None:
                await asyncio.shield(previous)  # this user's earlier message first
            handling = True
            try:
                outbound = await self.dispatcher.handle(await self._inbound(incoming))
                self.processed += 1
                if outbound is None:
                    return
                reply_to = outbound.reply_to or reply_to
                chunks = self._chunks(outbound, language)
            except Exception:
                log.exception("%s: message %s failed", self.platform, incoming.key)
                chunks = [pick(FAILED, language)]
            handling = False  # its answer is going out: a cut-off now must not ask for it again
            await self._deliver(incoming, chunks, reply_to)
        except asyncio.CancelledError:
            # A stop cut it off after its grace: while being handled, or a photo still waiting behind
            # the same user's earlier message (a text still waiting has no photo to send again).
            if handling or incoming.kind == "image":
                await self._say_interrupted(incoming, language)
            raise
        finally:  # only now: "any text" sent meanwhile must wait for this reply, not start another
            done.set_result(None)
            if self._latest.get(incoming.user) is done:
                del self._latest[incoming.user]
            self._busy[incoming.user] -= 1
            if self._busy[incoming.user] <= 0:
                del self._busy[incoming.user]

    async def _say_interrupted(self, incoming: Incoming, language: str) -> None:
        """A stop cut this message off after its grace: ask the user to send it again, while the API can
        still send (the drain waits briefly for cut-off work; the client closes after it). Passive mode
        can answer only inside a request WeChat still waits on, and none is left: its user sees nothing."""
        if not self.passive:
            await say_cut_off(self.platform, self.api.send_text(incoming.user, interrupted_text(language)))

    async def _recorded_first(self, incoming: Incoming, stamp: Stamp) -> bool:
        """The shared replay check (`Refused` passes through), then whether this is the message's first
        claim. When SQLite cannot record either (locked, disk full), it counts as first: a reply that
        might come twice beats certain silence, or in passive mode an HTTP 500 that WeChat shows the
        user as "this account cannot serve you right now"."""
        try:
            await self.guard.check_shared(stamp)
            claim = self.runtime.session_log.claim_inbound
            return await asyncio.to_thread(claim, self.platform, incoming.key)
        except Refused:
            raise
        except Exception as exc:
            log.error(
                "%s: could not record message %s as claimed (%s); processing it anyway",
                self.platform,
                incoming.key,
                type(exc).__name__,
            )
            return True

    async def _claim(self, incoming: Incoming, stamp: Stamp) -> bool:
        """Whether this worker processes the message (customer-service mode, after WeChat was answered:
        the message is already marked seen here and WeChat's retries are answered `success`)."""
        try:
            claimed = await self._recorded_first(incoming, stamp)
        except Refused as refused:
            log.warning("%s: dropped message %s after the fact: %s", self.platform, incoming.key, refused)
            return False
        if claimed:
            return True
        log.info(
            "%s: message %s was claimed before (retry after a restart?); not processed again",
            self.platform,
            incoming.key,
        )
        return False

    async def _inbound(self, incoming: Incoming) -> Inbound:
        """The platform-neutral message; for a photo, downloaded now (user media expires in 3 days)."""
        inbound = Inbound(
            platform=self.platform,
            chat_id=incoming.user,
            user_id=incoming.user,
            message_id=incoming.key,
            chat_type="private",
            slash_commands=False,
        )
        if incoming.kind == "text":
            inbound.text = self.choices.resolve(incoming.user, incoming.text)
            return inbound
        try:
            data = await self.api.download_media(incoming.media_id)
        except (WeChatAPIError, ImageRejected) as error:
            why = error.describe() if isinstance(error, WeChatAPIError) else str(error)
            log.warning("%s: photo of message %s not downloaded: %s", self.platform, incoming.key, why)
            failure: Exception = error
            inbound.unusable = error.reason if isinstance(error, ImageRejected) else "download"

            # The recognition meets the failure as Telegram's does, whenever the kind is known: its
            # reply and session row ("send it again", error_category "download"; or "too large").
            async def fetch() -> bytes:
                raise failure

            inbound.fetch_image = fetch
            return inbound

        async def fetch() -> bytes:
            return data

        inbound.fetch_image = fetch
        return inbound

    def _chunks(self, outbound: Outbound, language: str) -> list[str]:
        """The reply's text chunks, with offered choices as a numbered list (WeChat has no buttons)."""
        chunks = list(outbound.text)
        if outbound.choices:
            self.choices.offer(outbound.chat_id, [command for command, _ in outbound.choices])
            listing = "\n".join(f"{number}. {label}" for number, (_, label) in enumerate(outbound.choices, 1))
            listing += "\n" + pick(PICK_HINT, language)
            joined = (chunks[-1] + "\n" + listing) if chunks else listing
            if len(joined.encode("utf-8")) <= WECHAT_TEXT_LIMIT_BYTES:
                chunks[-1:] = [joined]
            else:
                chunks.extend(split_utf8(listing))
        return [piece for chunk in chunks for piece in split_utf8(chunk)]

    async def _deliver(self, incoming: Incoming, chunks: list[str], reply_to: str) -> None:
        if self.passive:
            await self.outbox.put(incoming.user, chunks)
            return
        for index, chunk in enumerate(chunks):
            try:
                await self.api.send_text(incoming.user, chunk)
                self.sent += 1
            except Exception as exc:  # kept for the user's next message, whatever failed
                error = exc if isinstance(exc, WeChatAPIError) else WeChatAPIError("send", None, repr(exc))
                await self._undelivered(incoming, chunks[index:], reply_to, error)
                return

    async def _undelivered(
        self, incoming: Incoming, remaining: list[str], reply_to: str, error: WeChatAPIError
    ) -> None:
        """Keep the reply for the user's next message, and make the failure visible to the operator:
        a log line with the errcode and the session id, and a delivery record in the kv."""
        await self.outbox.put(incoming.user, remaining)
        session_id = await asyncio.to_thread(self._session_id, incoming.user, reply_to)
        if session_id is not None:
            log_ = self.runtime.session_log
            await asyncio.to_thread(log_.set_delivery, session_id, "undelivered", str(error.code))
        record = {
            "status": "undelivered",
            "errcode": error.code,
            "endpoint": error.endpoint,
            "session_id": session_id,
        }
        await asyncio.to_thread(
            self.runtime.session_log.kv_set,
            f"{self.platform}:delivery:{reply_to}",
            json.dumps(record),
            DELIVERY_RECORD_SECONDS,
        )
        log.warning(
            "%s: reply to message %s (session %s) not delivered: %s; kept for the user's next message",
            self.platform,
            reply_to,
            session_id if session_id is not None else "-",
            error.describe(),
        )

    def _session_id(self, user: str, message_id: str) -> int | None:
        rows = self.runtime.session_log.history(user_id=user, platform=self.platform, limit=20)
        return next((row.id for row in rows if row.message_id == message_id), None)

    def _language(self, user: str) -> str:
        probe = Inbound(platform=self.platform, chat_id=user, user_id=user, message_id="")
        return self.dispatcher.language_of(probe)

    def _forget_old_tries(self) -> None:
        horizon = time.monotonic() - 4 * self.timing.wechat_timeout * self.timing.tries
        for key in [key for key, tries in self._tries.items() if tries.first_seen < horizon]:
            del self._tries[key]


def forbidden(platform: str, reason: str, client: str) -> Response:
    """403 for a callback we cannot trust; logged with the reason, never with the body."""
    log.warning("%s: rejected callback from %s: %s", platform, client, reason)
    return PlainTextResponse("forbidden", status_code=403)


def success() -> Response:
    """WeChat's "received, no reply" answer: it neither retries nor shows an error."""
    return PlainTextResponse("success")
