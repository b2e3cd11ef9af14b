"""A morning rush on the embedded engine: many people send a licence photo at the same moment.

    .venv/bin/python -m benchmarks.rush [--users N] [--album N] [--out PATH]

`users` people each send one licence photo and, a moment before them, one more sends an album of
`album` photos, all through the Recognizer (intake, the local vendor's queue, checks, session log) as a
chat channel hands them over. The engine reads one photo at a time, so this measures its queue: how
long each person waits for an answer, how many get their result, and how many are told at once that it
is busy. Prints
the figures with the peak RSS of the process and writes them as JSON. Figures only: nothing here
asserts, and timings depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python benchmarks/rush.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import peak_rss_mb, percentile  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.storage import SessionLog  # noqa: E402
from bot.vendors.base import BUSY  # noqa: E402
from handlers.outcome import Outcome, Status  # noqa: E402
from handlers.recognize import Context, Recognizer, Request  # noqa: E402
from tests import specimens  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "rush.json"


def photos(count: int, seed: int) -> list[bytes]:
    """`count` different driving licence photos (the result cache answers a photo seen before at once,
    so no two may be the same bytes)."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        page, _truth = specimens.render_driving(specimens.make_person(rng), "new", "front")
        buffer = io.BytesIO()
        page.convert("RGB").save(buffer, "JPEG", quality=90)
        made.append(buffer.getvalue())
    return made


def outcome_name(outcome: Outcome) -> str:
    if outcome.status == Status.OK:
        return "result"
    if outcome.error_code == BUSY:
        return "busy"
    return outcome.error_category or str(outcome.status)


async def rush(users: int, album: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        config_file = Path(folder) / "config.toml"
        config_file.write_text(f'[bot]\ndatabase = "{Path(folder) / "rush.db"}"\n', encoding="utf-8")
        config = load_config(config_file, environ={})  # the default chains: the embedded engine alone
        session_log = SessionLog(config.bot.database)
        recognizer = Recognizer(config, session_log)
        sent = photos(users + album + 1, seed)
        await recognizer.recognize(Request(kind="driving", data=sent.pop()))  # loads the models

        async def one(user: str, data: bytes) -> tuple[str, str, float]:
            began = time.perf_counter()
            request = Request(kind="driving", data=data, context=Context(platform="bench", user_id=user))
            outcome = await recognizer.recognize(request)
            return user, outcome_name(outcome), time.perf_counter() - began

        # The album first: read first come, first served, it held everyone behind it (people now take
        # turns, so the album's later photos wait instead).
        senders = ["album"] * album + [f"user{number}" for number in range(users)]
        began = time.perf_counter()
        answers = await asyncio.gather(*(one(user, data) for user, data in zip(senders, sent, strict=False)))
        wall = time.perf_counter() - began
        rows = len(session_log.history(limit=10_000))
        await recognizer.aclose()
        session_log.close()

    def summary(picked: list[tuple[str, str, float]]) -> dict[str, Any]:
        seconds = [answer[2] for answer in picked]
        return {
            "photos": len(picked),
            "outcomes": dict(Counter(answer[1] for answer in picked)),
            "median_s": round(percentile(seconds, 0.5), 2),
            "p95_s": round(percentile(seconds, 0.95), 2),
            "max_s": round(max(seconds), 2),
            "result_max_s": round(max((a[2] for a in picked if a[1] == "result"), default=0.0), 2),
            "busy_max_s": round(max((a[2] for a in picked if a[1] == "busy"), default=0.0), 2),
        }

    return {
        "users": users,
        "album": album,
        "seed": seed,
        "wall_s": round(wall, 2),
        "all": summary(answers),
        "singles": summary([answer for answer in answers if answer[0] != "album"]),
        "album_photos": summary([answer for answer in answers if answer[0] == "album"]) if album else None,
        "session_rows": rows - 1,  # less the warm-up
        "peak_rss_mb": round(peak_rss_mb()),
        "machine": {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=45, help="people sending one photo each")
    parser.add_argument("--album", type=int, default=10, help="photos in one more person's album")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    figures = asyncio.run(rush(args.users, args.album, args.seed))
    for group in ("all", "singles", "album_photos"):
        part = figures[group]
        if part:
            print(
                f"{group:<13} {part['photos']:>3} photos  {part['outcomes']}  "
                f"median {part['median_s']} s  p95 {part['p95_s']} s  max {part['max_s']} s  "
                f"(slowest result {part['result_max_s']} s, slowest busy answer {part['busy_max_s']} s)"
            )
    rows, peak, wall = figures["session_rows"], figures["peak_rss_mb"], figures["wall_s"]
    print(f"session rows {rows}  peak RSS {peak} MB  wall {wall} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
