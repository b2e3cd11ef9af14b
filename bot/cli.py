"""`licence-bot`: recognize, serve, history, export, stats, check-config.

argparse rather than click: the CLI is small and flat, and the standard library keeps the embedded
default installable with nothing but the recognition stack.
Exit codes: 0 recognized, 1 recognition failed, 2 bad input or bad config.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.config import (
    CHANNEL_SETTINGS,
    Config,
    ConfigError,
    check_vendor_credentials,
    import_target,
    load_config,
)
from bot.models import KINDS, SIDES
from bot.storage import SessionLog, StorageError, private_file

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: CSV files start with a byte-order mark: Excel, which most admins open them in, reads a CSV without
#: one in the system's code page (GBK on Chinese Windows), and every name and address comes out garbled.
#: Python's csv (with utf-8-sig), pandas and LibreOffice read it either way. Standard output gets none.
CSV_FILE_ENCODING = "utf-8-sig"


class OutputError(Exception):
    """A file the command was asked to write cannot be (no such folder, no permission)."""


def check_output(path: Path) -> None:
    """`OutputError` now if `path` could not be written later, without touching it: a long run must not
    fail at its end on a mistyped folder, nor empty an earlier results file before it has new ones."""
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: no such folder")
    if path.is_dir() or not os.access(path if path.exists() else folder, os.W_OK):
        raise OutputError(f"cannot write {path}: not writable")


def open_output(path: Path, encoding: str) -> TextIO:
    """`path` opened for writing, readable by its owner alone when new: it holds what the log holds, or
    with `recognize --csv` every field unmasked."""
    private_file(path)
    try:
        return path.open("w", newline="", encoding=encoding)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"licence-bot: bad config: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.run(args, config))
    except ConfigError as exc:  # what only the commands that call vendors check (their credentials)
        print(f"licence-bot: bad config: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (StorageError, sqlite3.Error) as exc:  # a database path that is no SQLite file, or unwritable
        print(f"licence-bot: session log {config.bot.database}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(f"licence-bot: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `licence-bot export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="licence-bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument(
            "--config", type=Path, default=None, help="config file (default: ./config.toml if present)"
        )
        cmd.set_defaults(run=run)
        return cmd

    rec = command("recognize", "read one or more photos and print the reply a chat would show", _recognize)
    rec.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    rec.add_argument("--kind", required=True, choices=KINDS)
    rec.add_argument("--side", default="front", choices=SIDES, help="front = main page, back = 副页")
    rec.add_argument("--vendor", help="use this vendor alone instead of the configured chain")
    rec.add_argument("--json", action="store_true", help="print one JSON object per image")
    rec.add_argument("--csv", type=_file_path, metavar="FILE", help="also write one row per image to FILE")
    rec.add_argument("--lang", choices=("zh", "en"), help="reply language (default from config)")

    hist = command("history", "list the latest recognitions from the session log", _history)
    hist.add_argument("--limit", type=_positive, default=20)
    hist.add_argument("--user")
    hist.add_argument("--platform")

    exp = command("export", "export the session log", _export)
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("--output", type=Path, help="file to write (default, or -: standard output)")

    command("stats", "counts, success rate and latency per vendor and kind", _stats)
    command("check-config", "validate the config and show what would run", _check_config)
    command("serve", "run the configured chat channels", _serve)
    return parser


def _recognize(args: argparse.Namespace, config: Config) -> int:
    from bot.cli_recognize import recognize_files

    return asyncio.run(recognize_files(args, config))


def _history(args: argparse.Namespace, config: Config) -> int:
    log = SessionLog(config.bot.database, create=False)
    try:
        rows = log.history(user_id=args.user, platform=args.platform, limit=args.limit)
    finally:
        log.close()
    if not rows:
        print("no matching sessions" if args.user or args.platform else "no sessions yet")
        return EXIT_OK
    zone = ZoneInfo(config.bot.timezone)  # the times the chat's /history shows
    print(f"times in {config.bot.timezone}")
    print(f"{'id':>5}  {'time':<19}  {'platform':<8} {'page':<14} {'status':<12} {'vendor':<8} total")
    for row in rows:
        vendor = row.vendor or "-"
        total = f"{row.total_ms:.0f} ms" if row.total_ms is not None else "-"
        page = f"{row.kind}/{row.side}" if row.kind is not None else "-"  # a photo that got no kind
        print(
            f"{row.id:>5}  {row.created_at.astimezone(zone):%Y-%m-%d %H:%M:%S}  {row.platform:<8} "
            f"{page:<14} {row.status!s:<12} {vendor:<8} {total}"
        )
    return EXIT_OK


def _export(args: argparse.Namespace, config: Config) -> int:
    """Rows are written as the log pages them out, so a long log never sits in memory whole."""
    log = SessionLog(config.bot.database, create=False)
    out: TextIO
    try:
        encoding = CSV_FILE_ENCODING if args.format == "csv" else "utf-8"
        to_file = args.output is not None and str(args.output) != "-"
        with open_output(args.output, encoding) if to_file else _stdout() as out:
            if args.format == "json":
                out.write("[")
                for number, row in enumerate(log.export()):
                    text = json.dumps(row, ensure_ascii=False, default=str)
                    out.write(("," if number else "") + "\n  " + text)
                out.write("\n]\n")
            else:
                writer = csv.DictWriter(out, fieldnames=log.export_columns())
                writer.writeheader()
                writer.writerows(log.export())
    finally:
        log.close()
    return EXIT_OK


def _stats(args: argparse.Namespace, config: Config) -> int:
    log = SessionLog(config.bot.database, create=False)
    stats = log.stats()
    log.close()
    rate = "-" if stats.success_rate is None else f"{stats.success_rate:.1%}"
    print(f"sessions: {stats.total}   success rate: {rate}")
    for status, count in sorted(stats.by_status.items()):
        print(f"  {status:<14} {count}")
    # "queued": of those times, the wait in the vendor's own queue (the embedded engine's in a rush).
    print(f"{'vendor':<16}{'kind':<10}{'calls':>7}{'ok':>7}{'p50 ms':>9}{'p95 ms':>9}{'queued p50/p95':>17}")
    for item in stats.by_vendor_kind:
        queued = f"{_ms(item.waited_p50_ms)}/{_ms(item.waited_p95_ms)}" if item.waited_p95_ms else "-"
        print(
            f"{item.vendor:<16}{item.kind:<10}{item.count:>7}{item.ok:>7}"
            f"{_ms(item.p50_ms):>9}{_ms(item.p95_ms):>9}{queued:>17}"
        )
    if stats.by_vendor_day:
        print(f"{'vendor':<16}{'day':<12}{'calls':>7}{'failures':>10}")
        for day in stats.by_vendor_day:
            print(f"{day.vendor:<16}{day.day!s:<12}{day.calls:>7}{day.failures:>10}")
    return EXIT_OK


def _check_config(args: argparse.Namespace, config: Config) -> int:
    from handlers.recognize import build_chains

    try:
        check_vendor_credentials(config)
        chains = build_chains(config)
    except Exception as exc:  # a vendor that cannot be built is a config error, whatever it raised
        print(f"licence-bot: bad config: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"config ok: language={config.bot.language} database={config.bot.database}")
    for kind, chain in chains.items():
        print(f"  {kind:<8} -> {' -> '.join(vendor.name for vendor in chain.vendors)}")
        sides = ("front",) if kind == "plate" else ("front", "back")
        for side in sides:
            if not any(vendor.supports_request(kind, side) for vendor in chain.vendors):
                print(f"  note: no vendor in the {kind} chain reads the {side} page; users are told so")
    starting = 0
    for name, target in CHANNEL_SETTINGS.items():
        table = config.channel_table(name)
        if table is None:
            continue
        missing = import_target(target).model_validate(table).missing_credentials
        starting += not missing
        unset = ", ".join(f"{name}.{key}" for key in missing)
        print(f"  channel {name}: {f'not started: {unset} not set' if missing else 'starts'}")
    if not starting:
        print("  note: no chat channel would start, so `licence-bot serve` would exit 2")
    return EXIT_OK


def _serve(args: argparse.Namespace, config: Config) -> int:
    from bot.channels.server import serve

    check_vendor_credentials(config)
    logging.getLogger().setLevel(logging.INFO)
    code = asyncio.run(serve(config))
    if code == EXIT_BAD_INPUT:
        message = "no chat channel is configured ([telegram], [wechat] or [wecom] with credentials)"
        print(f"licence-bot serve: {message}", file=sys.stderr)
    return code


def _file_path(text: str) -> Path:
    """A file to write; `-` is refused, since standard output already carries the replies."""
    if text == "-":
        raise argparse.ArgumentTypeError("needs a file (standard output carries the replies; see --json)")
    return Path(text)


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class _stdout:
    """Context manager yielding sys.stdout without closing it."""

    def __enter__(self) -> TextIO:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
