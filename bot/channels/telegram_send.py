"""Sending to Telegram without falling over: flood control, blocked users, and the command menus.

Telegram answers 429 with `retry_after` when a bot sends too fast; every send then waits that long
(all sends, since the limit is the bot's) and tries again. A user who blocked the bot (403) simply gets
nothing: the recognition is already logged and the bot must keep serving everyone else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault, InlineKeyboardButton
from telegram import InlineKeyboardMarkup as Keyboard
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from handlers.channel_texts import ADMIN_MENU, MENU

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Tries per send: the first plus retries after flood control or a network hiccup.
MAX_ATTEMPTS = 4
NETWORK_RETRY_SECONDS = 1.0


class Sender:
    """Wraps each Bot API call: honours RetryAfter bot-wide, drops sends to chats that blocked us."""

    def __init__(self, bot: Bot, clock: Callable[[], float] | None = None) -> None:
        self.bot = bot
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._quiet_until = 0.0
        self.dropped = 0

    async def call(self, send: Callable[[], Awaitable[T]], what: str) -> T | None:
        """The call's result, or None when it could not be delivered (logged, never raised)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await self._wait_out_flood()
            try:
                return await send()
            except RetryAfter as exc:
                seconds = _retry_seconds(exc)
                log.warning("Telegram flood control on %s: waiting %.0f s", what, seconds)
                self._quiet_until = max(self._quiet_until, self._clock() + seconds)
            except Forbidden:
                log.info("%s not delivered: the user blocked the bot or removed it from the chat", what)
                self.dropped += 1
                return None
            except BadRequest as exc:
                log.warning("%s refused by Telegram: %s", what, exc.message)
                self.dropped += 1
                return None
            except NetworkError as exc:
                if attempt == MAX_ATTEMPTS:
                    break
                log.warning("%s: network error (%s), retrying", what, type(exc).__name__)
                await asyncio.sleep(NETWORK_RETRY_SECONDS)
            except TelegramError as exc:
                log.warning("%s failed: %s", what, type(exc).__name__)
                self.dropped += 1
                return None
        log.warning("%s not delivered after %d attempts", what, MAX_ATTEMPTS)
        self.dropped += 1
        return None

    async def _wait_out_flood(self) -> None:
        delay = self._quiet_until - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)


def _retry_seconds(exc: RetryAfter) -> float:
    """PTB 22 warns that `retry_after` turns from int into timedelta; accept both, without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        retry_after = exc.retry_after
    if isinstance(retry_after, dt.timedelta):
        return retry_after.total_seconds()
    return float(retry_after)


async def set_menus(sender: Sender, default_language: str, admins: list[int]) -> None:
    """Commands menus in Chinese and English, plus /stats in each admin's own chat with the bot.

    Telegram picks the list by the user's language; users of other languages get the configured default.
    """
    scopes: list[tuple[BotCommandScopeDefault | BotCommandScopeChat, bool]] = [
        (BotCommandScopeDefault(), False)
    ]
    scopes += [(BotCommandScopeChat(admin), True) for admin in admins]
    for scope, is_admin in scopes:
        for language_code in (None, "zh", "en"):
            language = language_code or default_language
            entries = MENU[language] + (ADMIN_MENU[language] if is_admin else [])
            commands = [BotCommand(name, description) for name, description in entries]
            await sender.call(
                lambda commands=commands, scope=scope, code=language_code: sender.bot.set_my_commands(
                    commands, scope=scope, language_code=code
                ),
                "setMyCommands",
            )


def kind_keyboard(choices: list[tuple[str, str]], owner: str) -> Keyboard:
    """Two buttons a row; the data names the sender so nobody else in a group can answer for them."""
    buttons = [
        InlineKeyboardButton(label, callback_data=f"kind:{command}:{owner}") for command, label in choices
    ]
    return Keyboard([buttons[index : index + 2] for index in range(0, len(buttons), 2)])


BOXES_LABEL = {"zh": "🔲 查看识别位置", "en": "🔲 Show boxes"}


def boxes_keyboard(photo_message_id: str, language: str) -> Keyboard:
    return Keyboard(
        [
            [
                InlineKeyboardButton(
                    BOXES_LABEL.get(language, BOXES_LABEL["zh"]), callback_data=f"boxes:{photo_message_id}"
                )
            ]
        ]
    )
