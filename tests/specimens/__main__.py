"""Command line: write a specimen dataset, or the five clean samples the README demo uses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.specimens.data import NAME_POOLS
from tests.specimens.dataset import generate, write_sample
from tests.specimens.fonts import FontNotFound


def _dataset_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.specimens",
        description="Render specimen driving licences, vehicle licences and plates with ground truth. "
        "Use 'python -m tests.specimens sample --out DIR' for one clean image of each page.",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder to write driving/, vehicle/, plates/ into"
    )
    parser.add_argument("--count", type=int, default=20, help="images per category (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same images (default 0)")
    parser.add_argument(
        "--degrade",
        default="mild",
        help="none, mild, all (a random combination per image) or a comma list such as rotate,jpeg",
    )
    parser.add_argument(
        "--names",
        choices=NAME_POOLS,
        default="common",
        help="common: given names from the few dozen most popular characters (default); real: characters "
        "as often as real people are given them, rare ones included",
    )
    return parser


def _sample_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.specimens sample",
        description="Write driving_front.jpg, driving_back.jpg, vehicle_front.jpg, vehicle_back.jpg, "
        "plate.jpg and truth.json.",
    )
    parser.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["sample"]:
            options = _sample_parser().parse_args(args[1:])
            write_sample(options.out)
            print(f"wrote samples to {options.out}")
            return 0
        options = _dataset_parser().parse_args(args)
        summary = generate(options.out, options.count, options.seed, options.degrade, options.names)
    except FontNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {summary.driving} driving, {summary.vehicle} vehicle, {summary.plate_images} plate images "
        f"({summary.plate_rows} plate labels) to {options.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
