"""The platform-neutral messages between chat adapters (bot/channels) and the conversation logic.

Modelled on nonebot2's Event: an adapter fills in who, where and what; handlers never see a Telegram
Update or a WeChat XML body, so the same conversation runs on every platform and in tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from handlers.outcome import Outcome

ChatType = Literal["private", "group"]


@dataclass
class Inbound:
    """One user message. `fetch_image` downloads the photo lazily (only when we will read it)."""

    platform: str
    chat_id: str
    user_id: str
    message_id: str
    chat_type: ChatType = "private"
    text: str = ""
    fetch_image: Callable[[], Awaitable[bytes]] | None = None
    #: The user's language as the platform reports it ("zh", "en"), if any.
    language: str | None = None
    #: In a group: the message was a command to us, a reply to our prompt, or mentioned us.
    addressed: bool = False
    #: The channel's config lists this user as an admin (/stats).
    is_admin: bool = False
    #: The platform has slash commands (Telegram); otherwise help lists words (驾驶证, 车牌…).
    slash_commands: bool = True
    #: The message id of the photo this message answers, when the platform knows it (a button under
    #: the prompt that asked about that photo), so the kind goes to that photo among several waiting.
    answers: str | None = None
    #: Why the channel already knows the photo cannot be read (a download that failed: "download", or a
    #: reject reason such as "too_large"). Said at once when no kind is known yet, rather than asking
    #: which document it is and only then; with a kind, the recognizer meets the failure and logs it.
    unusable: str | None = None
    #: When the message reached us: a photo that ends without a kind is logged at the time it came.
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def has_image(self) -> bool:
        return self.fetch_image is not None

    @property
    def session_key(self) -> tuple[str, str, str]:
        """Pending state belongs to one user in one chat: a group member can't answer someone else's photo."""
        return (self.platform, self.chat_id, self.user_id)


@dataclass
class Outbound:
    """What to send back: plain-text chunks (WeChat, CLI) and HTML chunks (Telegram) of the same reply.

    `choices` asks the user to pick the document kind (rendered as buttons or a numbered list).
    """

    chat_id: str
    text: list[str]
    html: list[str]
    reply_to: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)  # (command, label)
    #: The recognition behind this reply, if any: channels draw its boxes ("show boxes" button).
    outcome: Outcome | None = None
