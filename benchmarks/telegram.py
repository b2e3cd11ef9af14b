"""Telegram under a burst: N users each send a photo at the same moment; how long until all are answered?

The real channel (python-telegram-bot, long polling, dispatcher, recognizer, SQLite session log) runs in
this process against the fake Bot API server, which runs in a separate process so that its CPU is not
counted as the bot's. The vendor is the scripted fake answering after `--delay` seconds (0.5 by default),
so the figures show what the bot itself adds: every photo costs getUpdates share, getFile, a download,
a chat action and the reply. Like a cloud vendor, the scripted one uploads the original bytes, so intake
only proves the photo decodes (a 1/8-scale JPEG decode, `Vendor.intake_side`).

The burst is repeated `--rounds` times (3) with fresh users and the figures are the medians, because a
single burst on a 2-core machine varies by ±10 %.

Figures:
- **wall_s**: from queueing the N updates until the bot has sent all N replies (and the fake confirms it
  received them). Target: ≤ 1.5 s for 200 users with a 0.5 s vendor.
- **cpu_ms_per_update**: this process's CPU time (`time.process_time`) over the burst, divided by N;
  `cpu_ms_per_update_excl_decode` subtracts image decoding: the CPU that intake's `images.load` used
  during the burst, summed over its worker threads (`time.thread_time`). Decoding on both cores next to
  the bot costs more than decoding alone, so `decode_alone_cpu_ms` (the same photo decoded N times
  afterwards, on its own) is reported beside it. Target: ≤ 5 ms per update excluding decoding.

    python benchmarks/telegram.py --users 200 --delay 0.5     (or: python -m benchmarks.telegram)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and this very file would shadow the
# `telegram` package (python-telegram-bot): take the folder out and put the repository root in.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.fakes.vendors  # noqa: E402,F401 - registers the scripted vendor
from bot import images  # noqa: E402
from bot.channels.base import Runtime  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.config import load_config  # noqa: E402
from tests.fakes.telegram_server import TOKEN, StoredFile, message  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "telegram.json"
WALL_TARGET_S = 1.5
CPU_TARGET_MS = 5.0
WARMUP_USERS = 5
FIRST_USER = 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def street_photo() -> bytes:
    """A 1280x853 street scene with one plate: the size Telegram delivers for a compressed photo."""
    from tests.specimens import make_plate, render_plate_scene

    rng = random.Random(11)
    scene, _ = render_plate_scene([make_plate(rng, kind="blue")], rng, size=(1280, 853))
    buffer = io.BytesIO()
    scene.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class FakeServerProcess:
    """tests/fakes/telegram_server.py in its own process, driven over its /_fake control routes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.telegram_server", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "listening on …"
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def upload(self, data: bytes) -> StoredFile:
        answer = self.control.post("/_fake/file", content=data).json()
        return StoredFile(answer["file_id"], b"", "", answer["file_size"])

    def push(self, updates: list[dict[str, Any]]) -> None:
        self.control.post("/_fake/updates", json=updates).raise_for_status()

    def counts(self) -> dict[str, int]:
        return dict(self.control.get("/_fake/counts").json())

    def close(self) -> None:
        self.control.close()
        self.process.terminate()
        self.process.wait(10)


def photo_updates(photo: StoredFile, users: range) -> list[dict[str, Any]]:
    return [
        {"message": message(user, chat_id=user, user_id=user, photo=photo, caption="/plate")}
        for user in users
    ]


async def burst(channel: TelegramChannel, fake: FakeServerProcess, photo: StoredFile, users: range) -> float:
    """Queue one photo per user at once; seconds until every reply has been sent."""
    answered = 0
    done = asyncio.Event()
    send = channel._send

    async def counting_send(*args: Any) -> None:
        nonlocal answered
        await send(*args)
        answered += 1
        if answered == len(users):
            done.set()

    channel._send = counting_send  # type: ignore[method-assign]
    started = time.perf_counter()
    await asyncio.to_thread(fake.push, photo_updates(photo, users))
    await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - started
    channel._send = send  # type: ignore[method-assign]
    return elapsed


class DecodeClock:
    """Sums the thread CPU time spent in `bot.images.load` while installed (it runs in worker threads)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._original = images.load

    def __enter__(self) -> DecodeClock:
        original = self._original

        def timed_load(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self._lock:
                    self.seconds += spent

        images.load = timed_load  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        images.load = self._original  # type: ignore[assignment]

    def take(self) -> float:
        with self._lock:
            spent, self.seconds = self.seconds, 0.0
        return spent


def decode_cpu_seconds(data: bytes, times: int, decode_side: int | None) -> float:
    started = time.process_time()
    for _ in range(times):
        images.load(data, min_side=images.MIN_SHORT_SIDE_PLATE, decode_side=decode_side)
    return time.process_time() - started


async def run(users: int, delay: float, rounds: int = 3) -> dict[str, Any]:
    data = street_photo()
    fake = FakeServerProcess()
    with tempfile.TemporaryDirectory() as scratch:
        config_path = Path(scratch) / "config.toml"
        config_path.write_text(
            f'[bot]\ndatabase = "{Path(scratch) / "bench.db"}"\ncache_seconds = 0\n'
            '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'
            f"[vendors.scripted]\ndelay = {delay}\n"
            f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "http://127.0.0.1:{fake.port}/bot"\n'
            f'base_file_url = "http://127.0.0.1:{fake.port}/file/bot"\npoll_timeout = 5\n',
            encoding="utf-8",
        )
        runtime = Runtime.from_config(load_config(config_path, environ={}))
        decode_side = runtime.dispatcher.recognizer.chains["plate"].intake_side("plate", "front")
        channel = TelegramChannel.from_config(runtime.config.channel_table("telegram") or {}, runtime)
        assert channel is not None
        try:
            await channel.start()
            photo = fake.upload(data)
            await burst(channel, fake, photo, range(1, WARMUP_USERS + 1))  # imports, pools, first decode
            before = fake.counts().get("sendMessage", 0)
            walls: list[float] = []
            cpus: list[float] = []
            decodes: list[float] = []
            with DecodeClock() as decoding:
                for round_ in range(rounds):
                    first = FIRST_USER + round_ * users
                    decoding.take()
                    cpu_started = time.process_time()
                    walls.append(await burst(channel, fake, photo, range(first, first + users)))
                    cpus.append(time.process_time() - cpu_started)
                    decodes.append(decoding.take())
            replies = fake.counts().get("sendMessage", 0) - before
            statuses = [row.status for row in runtime.session_log.history(limit=users * rounds)]
        finally:
            await channel.stop()
            await runtime.drain(5)
            await runtime.aclose()
            fake.close()
    decode_alone = decode_cpu_seconds(data, users, decode_side)
    wall = statistics.median(walls)
    excl_decode = [cpu - decode for cpu, decode in zip(cpus, decodes, strict=True)]
    return {
        "users": users,
        "rounds": rounds,
        "vendor_delay_s": delay,
        "replies_received_by_fake": replies,
        "sessions_ok": sum(status == "ok" for status in statuses),
        "wall_s": round(wall, 3),
        "wall_s_each_round": [round(value, 3) for value in walls],
        "cpu_ms_per_update": round(statistics.median(cpus) * 1000 / users, 2),
        "decode_cpu_ms_per_update": round(statistics.median(decodes) * 1000 / users, 2),
        "decode_alone_cpu_ms": round(decode_alone * 1000 / users, 2),
        "cpu_ms_per_update_excl_decode": round(statistics.median(excl_decode) * 1000 / users, 2),
        "cpu_ms_per_update_excl_decode_each_round": [round(value * 1000 / users, 2) for value in excl_decode],
        "targets": {"wall_s": WALL_TARGET_S, "cpu_ms_per_update_excl_decode": CPU_TARGET_MS},
        "photo_bytes": len(data),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.5, help="scripted vendor answer time, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="bursts in a row; the figures are medians")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.users, args.delay, args.rounds))
    for key, value in result.items():
        print(f"{key:>32}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
