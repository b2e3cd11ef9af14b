"""A loopback Telegram Bot API server for end-to-end tests with the real python-telegram-bot.

It speaks the documented protocol as PTB uses it: `POST /bot<token>/<method>` with form-urlencoded
parameters whose non-string values are JSON strings (multipart when a file is uploaded), answers
`{"ok": true, "result": …}`, hands out *relative* `file_path`s from getFile, and serves those files under
`/file/bot<token>/<file_path>` (PTB percent-encodes the token's colon there). getUpdates long-polls:
it holds the request until an update is queued or its `timeout` passes.

Every call is recorded (method, decoded parameters, uploaded files, the result) so a test can assert on
what the bot sent. A test can make a method answer 429 with `retry_after` (flood control) or make a chat
answer 403 (the user blocked the bot).

Used two ways: `FakeTelegram()` in a background thread of the test process, or standalone
(`python -m tests.fakes.telegram_server --port N`) driven over its `/_fake/*` control routes, which the
benchmark uses so the fake's CPU is not counted as the bot's.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import itertools
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456:TEST-token"
BOT_ID = 100
BOT_USERNAME = "licence_test_bot"
#: Parameters PTB sends as JSON strings inside the form.
JSON_PARAMETERS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "link_preview_options",
        "media",
    }
)
#: Telegram's getFile limit for bots: bigger files have no file_path and cannot be downloaded.
DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass
class Call:
    """One request the bot made: a Bot API method, or `download` for a file fetch."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    status: int = 200


@dataclass
class StoredFile:
    file_id: str
    data: bytes
    file_path: str
    #: What Telegram declares; may exceed len(data) to stand for a file too big to download.
    file_size: int


# ----------------------------------------------------------------------------------- update builders


def user(user_id: int, language_code: str | None = "zh-hans", first_name: str = "Tester") -> dict[str, Any]:
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        found["language_code"] = language_code
    return found


def chat(chat_id: int, chat_type: str = "private") -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Tester"}
    return {"id": chat_id, "type": chat_type, "title": "Team"}


def _command_entities(text: str | None) -> list[dict[str, Any]]:
    if not text or not text.startswith("/"):
        return []
    return [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]


def photo_sizes(file: StoredFile) -> list[dict[str, Any]]:
    """Two sizes, smallest first as Telegram sends them; only the largest points at real bytes."""
    return [
        {
            "file_id": f"{file.file_id}-thumb",
            "file_unique_id": "thumb",
            "width": 90,
            "height": 60,
            "file_size": 1000,
        },
        {
            "file_id": file.file_id,
            "file_unique_id": f"u{file.file_id}",
            "width": 1280,
            "height": 853,
            "file_size": file.file_size,
        },
    ]


def message(
    message_id: int,
    *,
    chat_id: int,
    user_id: int,
    chat_type: str = "private",
    language_code: str | None = "zh-hans",
    text: str | None = None,
    photo: StoredFile | None = None,
    document: StoredFile | None = None,
    mime_type: str = "image/jpeg",
    caption: str | None = None,
    reply_to: dict[str, Any] | None = None,
    media_group_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Message as Telegram delivers it, with the bot_command entity Telegram adds to commands;
    `extra` adds other fields as they are (a sticker, a video)."""
    built: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat(chat_id, chat_type),
        "from": user(user_id, language_code),
    }
    if text is not None:
        built["text"] = text
        if entities := _command_entities(text):
            built["entities"] = entities
    if photo is not None:
        built["photo"] = photo_sizes(photo)
    if document is not None:
        built["document"] = {
            "file_id": document.file_id,
            "file_unique_id": f"u{document.file_id}",
            "file_name": "scan.jpg",
            "mime_type": mime_type,
            "file_size": document.file_size,
        }
    if caption is not None:
        built["caption"] = caption
        if entities := _command_entities(caption):
            built["caption_entities"] = entities
    if reply_to is not None:
        built["reply_to_message"] = reply_to
    if media_group_id is not None:
        built["media_group_id"] = media_group_id
    return built | (extra or {})


# --------------------------------------------------------------------------------------------- state


class FakeBotApi:
    """The server's state: queued updates, stored files, recorded calls and scripted failures."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Licence", "username": BOT_USERNAME}
        self.calls: list[Call] = []
        self._files: dict[str, StoredFile] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._changed = threading.Condition()
        self._floods: dict[str, list[int]] = {}
        self._blocked: set[str] = set()
        self.closing = False

    # -- scripting

    def add_file(self, data: bytes, *, file_size: int | None = None, folder: str = "photos") -> StoredFile:
        number = next(self._file_ids)
        stored = StoredFile(f"file{number}", data, f"{folder}/file_{number}.jpg", file_size or len(data))
        self._files[stored.file_id] = stored
        return stored

    def flood(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer 429 with `retry_after` seconds."""
        self._floods.setdefault(method, []).extend([retry_after] * times)

    def block(self, chat_id: int | str) -> None:
        """Every send to this chat answers 403: the user has blocked the bot."""
        self._blocked.add(str(chat_id))

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue one update for getUpdates (assigning its update_id); returns it."""
        with self._changed:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._changed.notify_all()
        return update

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Updates pushed inside come in one getUpdates answer, as Telegram hands over an album: pushed
        one by one, a long poll may wake after the first and fetch the rest a round trip later."""
        with self._changed:  # a Condition's lock is reentrant, so `push` may take it again
            yield

    def push_message(self, **fields: Any) -> dict[str, Any]:
        """Build a user's message (see `message`) with a fresh message_id and queue it; returns the message.

        `photo=` / `document=` may be bytes (stored here first) or a StoredFile.
        """
        for key in ("photo", "document"):
            if isinstance(fields.get(key), bytes | bytearray):
                fields[key] = self.add_file(bytes(fields[key]))
        built = message(self.next_message_id(), **fields)
        self.push({"message": built})
        return built

    def press(
        self, bot_message: dict[str, Any], data: str, *, user_id: int, language_code: str | None = "zh-hans"
    ) -> None:
        """A user taps the inline button with callback `data` under one of the bot's messages."""
        self.push(
            {
                "callback_query": {
                    "id": str(next(self._update_ids) + 10_000),
                    "from": user(user_id, language_code),
                    "chat_instance": "ci",
                    "data": data,
                    "message": bot_message,
                }
            }
        )

    def wake_pollers(self) -> None:
        with self._changed:
            self.closing = True
            self._changed.notify_all()

    # -- queries

    def called(self, method: str, **where: Any) -> list[Call]:
        """Recorded calls of `method` whose parameters include `where` (compared as strings)."""
        return [
            call
            for call in list(self.calls)
            if call.method == method and all(str(call.params.get(k)) == str(v) for k, v in where.items())
        ]

    # -- the Bot API

    def answer(
        self, method: str, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[int, dict[str, Any]]:
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        failure = self._scripted_failure(method, params)
        if failure is not None:
            self.calls.append(Call(method, params, files, status=failure[0]))
            return failure
        result = self._result(method, params, files)
        if result is None:
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {method} is not faked"}
            self.calls.append(Call(method, params, files, status=400))
            return 400, body
        self.calls.append(Call(method, params, files, result=result))
        return 200, {"ok": True, "result": result}

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        pending = self._floods.get(method)
        if pending:
            retry_after = pending.pop(0)
            return 429, {
                "ok": False,
                "error_code": 429,
                "parameters": {"retry_after": retry_after},
                "description": f"Too Many Requests: retry after {retry_after}",
            }
        if method.startswith(("send", "edit")) and str(params.get("chat_id")) in self._blocked:
            return 403, {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones go
            while not self._updates and not self.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return self._updates[:limit]

    def _result(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method in (
            "setMyCommands",
            "sendChatAction",
            "answerCallbackQuery",
            "setWebhook",
            "deleteWebhook",
            "deleteMyCommands",
        ):
            return True
        if method == "getFile":
            return self._get_file(str(params.get("file_id")))
        if method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"):
            return self._sent_message(method, params, files)
        return None

    def _get_file(self, file_id: str) -> dict[str, Any]:
        stored = self._files.get(file_id)
        if stored is None:
            return {"file_id": file_id, "file_unique_id": file_id}
        found: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": stored.file_size,
        }
        if stored.file_size <= DOWNLOAD_LIMIT:
            found["file_path"] = stored.file_path  # relative, as the real server answers
        return found

    def _sent_message(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message_id = int(params.get("message_id") or self.next_message_id())
        sent: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "from": self.bot_user,
            "chat": chat(chat_id, "private" if chat_id > 0 else "supergroup"),
        }
        if "text" in params:
            sent["text"] = params["text"]
        if method == "sendPhoto":
            stored = self.add_file(files.get("photo", b""), folder="sent")
            sent["photo"] = photo_sizes(stored)
            if "caption" in params:
                sent["caption"] = params["caption"]
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params["reply_markup"]:
            sent["reply_markup"] = params["reply_markup"]
        replied = params.get("reply_parameters")
        if (
            isinstance(replied, dict) and "message_id" in replied
        ):  # as Telegram echoes it: the replied-to message
            sent["reply_to_message"] = {
                "message_id": int(replied["message_id"]),
                "date": int(time.time()),
                "chat": sent["chat"],
            }
        return sent

    def download(self, path: str) -> bytes | None:
        self.calls.append(Call("download", {"path": path}))
        for stored in self._files.values():
            if stored.file_path == path:
                return stored.data
        return None


# ------------------------------------------------------------------------------------------ transport


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_PARAMETERS & params.keys():
        if isinstance(params[key], str):
            with contextlib.suppress(json.JSONDecodeError):
                params[key] = json.loads(params[key])
    return params


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Form-urlencoded (PTB's usual), multipart (file uploads) or JSON parameters."""
    if content_type.startswith("multipart/form-data"):
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                files[str(name)] = payload
            else:
                params[str(name)] = payload.decode()
        return _decode(params), files
    if content_type.startswith("application/json"):
        # The Bot API reads a JSON body's top-level values as if they had come as form fields.
        fields = json.loads(body) if body else {}
        as_form = {
            key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()
        }
        return _decode(as_form), {}
    pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
    return _decode(dict(pairs)), {}


def _handler_for(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    bot_prefix = f"/bot{api.token}/"
    file_prefix = f"/file/bot{api.token}/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx's pool expects

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm meets the client's
            # delayed ACK and every keep-alive answer stalls ~40 ms.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the bot gave up on a long poll while stopping

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if path.startswith(file_prefix):
                data = api.download(path[len(file_prefix) :])
                if data is None:
                    self._reply(404, b"Not Found", "text/plain")
                else:
                    self._reply(200, data, "application/octet-stream")
            elif path == "/_fake/counts":
                counts: dict[str, int] = {}
                for call in list(api.calls):
                    counts[call.method] = counts.get(call.method, 0) + 1
                self._reply(200, json.dumps(counts).encode())
            else:
                self._api(path, {}, {})

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            body = self._body()
            if path == "/_fake/file":
                stored = api.add_file(body)
                self._reply(
                    200, json.dumps({"file_id": stored.file_id, "file_size": stored.file_size}).encode()
                )
                return
            if path == "/_fake/updates":
                for update in json.loads(body):
                    api.push(update)
                self._reply(200, b"{}")
                return
            params, files = _parse_body(self.headers.get("Content-Type", ""), body)
            self._api(urllib.parse.unquote(path), params, files)

        def _api(self, path: str, params: dict[str, Any], files: dict[str, bytes]) -> None:
            if not path.startswith(bot_prefix):
                self._reply(
                    404, json.dumps({"ok": False, "error_code": 404, "description": "Not Found"}).encode()
                )
                return
            status, body = api.answer(path[len(bot_prefix) :], params, files)
            self._reply(status, json.dumps(body, ensure_ascii=False).encode())

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: The stdlib's default listen backlog is 5: a burst of connections would be reset.
    request_queue_size = 1024


class FakeTelegram(FakeBotApi):
    """The fake Bot API served on 127.0.0.1 from a background thread; use as a context manager."""

    def __init__(self, token: str = TOKEN, port: int = 0) -> None:
        super().__init__(token)
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wake_pollers()
        self._server.shutdown()
        self._server.server_close()

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0, **where: Any) -> list[Call]:
        """The first `count` matching calls, once they have arrived; AssertionError after `timeout`.

        The timeout only guards against a hung test; no test asserts on how long anything took.
        """
        import asyncio

        deadline = time.monotonic() + timeout
        while True:
            found = self.called(method, **where)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = sorted({call.method for call in self.calls})
                raise AssertionError(
                    f"expected {count} {method} {where or ''}, got {len(found)}; seen {seen}"
                )
            await asyncio.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    fake = FakeTelegram(args.token, args.port)
    print(f"listening on {fake.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
