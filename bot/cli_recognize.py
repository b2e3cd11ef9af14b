"""`licence-bot recognize`: the chat pipeline run on files, printing what a chat would show."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from tqdm import tqdm

from bot.cli import CSV_FILE_ENCODING, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, check_output, open_output
from bot.config import Config, check_vendor_credentials, describe_errors
from bot.models import KINDS
from bot.storage import SessionLog
from bot.vendors.base import VendorChain, build_vendor
from handlers.outcome import Outcome, Status
from handlers.recognize import Context, Recognizer, Request
from handlers.replies import ReplyOptions, render_json_warnings, render_text


async def recognize_files(args: argparse.Namespace, config: Config) -> int:
    language = args.lang or config.bot.language
    try:
        check_vendor_credentials(config, [args.vendor] if args.vendor else None)
        chains = _chains_for(args.vendor, config)
    except KeyError as exc:
        print(f"licence-bot: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValidationError as exc:  # --vendor names one whose [vendors.NAME] table lacks its keys
        print(f"licence-bot: {describe_errors(exc, f'vendors.{args.vendor}.')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    session_log = SessionLog(config.bot.database, store_images=config.bot.store_images)
    recognizer = Recognizer(config, session_log, chains)
    worst = EXIT_OK
    csv_rows: list[dict[str, Any]] = []
    paths: list[Path] = args.images
    # The bar only on a terminal: in a log file its redraws are noise between the messages.
    progress = tqdm(paths, unit="image", file=sys.stderr, disable=len(paths) < 2 or not sys.stderr.isatty())
    try:
        if args.csv:
            check_output(args.csv)  # before any work: a mistyped path fails now, not after every photo
        for path in progress:
            try:
                data = path.read_bytes()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                print(f"licence-bot: cannot read {path}: {reason}", file=sys.stderr)
                worst = max(worst, EXIT_BAD_INPUT)
                unread = unreadable(str(path), args.kind, args.side, reason)
                if args.json:
                    progress.write(json.dumps(unread, ensure_ascii=False), file=sys.stdout)
                csv_rows.append(_csv_row(unread))
                continue
            request = Request(kind=args.kind, side=args.side, data=data, context=Context(language=language))
            outcome = await recognizer.recognize(request)
            worst = max(worst, _exit_code(outcome))
            summary = summarize(str(path), outcome, language)
            if args.json:
                progress.write(json.dumps(summary, ensure_ascii=False), file=sys.stdout)
            else:
                if len(paths) > 1:
                    progress.write(f"== {path} ==", file=sys.stdout)
                text = "\n".join(render_text(outcome, ReplyOptions(language=language, mask=False)))
                progress.write(text, file=sys.stdout)
            csv_rows.append(_csv_row(summary))
    finally:
        await recognizer.aclose()
        session_log.close()
    if args.csv:
        with open_output(args.csv, CSV_FILE_ENCODING) as handle:
            _write_csv(handle, csv_rows)
    return worst


def summarize(image: str, outcome: Outcome, language: str) -> dict[str, Any]:
    """The documented `recognize --json` object for one image."""
    recognition = outcome.recognition
    summary: dict[str, Any] = {
        "image": image,
        "kind": outcome.kind,
        "side": outcome.side,
        "vendor": recognition.vendor if recognition else None,
        "status": str(outcome.status),
        "fields": recognition.fields() if recognition else {},
        "warnings": render_json_warnings(outcome, language),
    }
    if outcome.kind == "plate":
        summary["plates"] = [p.model_dump(mode="json") for p in recognition.plates] if recognition else []
    if recognition and recognition.repairs:
        summary["repairs"] = [{"field": r.field} for r in recognition.repairs]
    if outcome.status != Status.OK:
        summary["error"] = {
            "category": outcome.error_category,
            "code": outcome.error_code,
            "reason": outcome.reject_reason,
        }
    if outcome.cached:
        summary["cached"] = True
    return summary


def unreadable(image: str, kind: str, side: str, reason: str) -> dict[str, Any]:
    """The `--json` object (and CSV row) for a file that could not be opened: one per image still, so
    a script can pair its inputs with the results. No session row: nothing reached the pipeline."""
    summary: dict[str, Any] = {
        "image": image,
        "kind": kind,
        "side": side,
        "vendor": None,
        "status": "unreadable",
        "fields": {},
        "warnings": [],
        "error": {"category": "unreadable", "code": None, "reason": reason},
    }
    if kind == "plate":  # as every plate object has it
        summary["plates"] = []
    return summary


def _chains_for(vendor: str | None, config: Config) -> dict[str, VendorChain] | None:
    """`--vendor NAME` replaces every configured chain with that one vendor."""
    if vendor is None:
        return None
    instance = build_vendor(vendor, config.vendors.table(vendor))
    return {kind: VendorChain([instance]) for kind in KINDS}


def _exit_code(outcome: Outcome) -> int:
    if outcome.status == Status.OK:
        return EXIT_OK
    if outcome.status == Status.BAD_IMAGE and outcome.reject_reason is not None:
        return EXIT_BAD_INPUT
    return EXIT_FAILED


def _csv_row(summary: dict[str, Any]) -> dict[str, Any]:
    row = {key: summary[key] for key in ("image", "kind", "side", "vendor", "status")}
    for name, value in summary["fields"].items():
        row[name] = "" if value is None else value
    row["warnings"] = "; ".join(w["code"] for w in summary["warnings"])
    return row


def _write_csv(handle: TextIO, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    writer = csv.DictWriter(handle, fieldnames=columns or ["image"])
    writer.writeheader()
    writer.writerows(rows)
