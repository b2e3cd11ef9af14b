"""Image intake speed on a realistic 12 MP phone photo: load()+fit() and load()+to_pil().

Prints median / p95 milliseconds per scenario and the process's peak RSS, and writes them as JSON.
Target (issue): intake of a 4032×3024 JPEG within 100 ms on a 2-core machine; the headline scenario is
`load+fit 4096px/4MB`. The other rows show the paths that cost more on purpose (EXIF rotation or a
tight byte limit force a full-resolution decode and re-encode) so regressions there are visible too.

    python benchmarks/intake.py --runs 20 --out benchmarks/results/intake.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python benchmarks/intake.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import peak_rss_mb, percentile  # noqa: E402
from bot.images import ImageLimits, fit, load, to_pil  # noqa: E402

WIDTH, HEIGHT = 4032, 3024
DEFAULT_OUT = Path(__file__).parent / "results" / "intake.json"


def realistic_photo(orientation: int = 1, seed: int = 2024) -> bytes:
    """A 4032×3024 JPEG that compresses like a phone photo (about 3.5 MB at quality 92): smooth light
    gradients, mid-scale texture and sensor noise, plus a camera-style EXIF block. Flat synthetic
    images would compress to a few hundred KB and flatter every number."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(128.0, 30.0, (HEIGHT // 8, WIDTH // 8, 3)).clip(0, 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC))
    across = np.linspace(0.0, 1.0, WIDTH, dtype=np.float32)
    pixels = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for top in range(0, HEIGHT, 256):  # in bands, so generating the photo barely moves peak RSS
        rows = slice(top, min(top + 256, HEIGHT))
        down = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[rows, None]
        band = texture[rows].astype(np.float32) - 128.0
        band[..., 0] += across * 170 + 40
        band[..., 1] += down * 150 + 50
        band[..., 2] += (across + down) * 90 + 50
        band += rng.normal(0.0, 4.5, band.shape).astype(np.float32)
        pixels[rows] = band.clip(0, 255)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Benchmark", "Synthetic 12MP", orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def measure(action: Callable[[], object], runs: int) -> dict[str, float]:
    action()  # warm-up: imports, plugin registration and allocator growth are not intake time
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000.0)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
        "min_ms": round(min(samples), 2),
        "max_ms": round(max(samples), 2),
        "peak_rss_mb_after": round(peak_rss_mb(), 1),
    }


def scenarios(upright: bytes, rotated: bytes) -> dict[str, Callable[[], object]]:
    vendor_default = ImageLimits(max_bytes=4 * 1024 * 1024, max_side=4096)
    two_megabytes = ImageLimits(max_bytes=2 * 1024 * 1024, max_side=4096)
    return {
        "load+fit 4096px/4MB": lambda: fit(load(upright), vendor_default),
        "load+to_pil max_side=2000": lambda: to_pil(load(upright), max_side=2000),
        "load only": lambda: load(upright),
        "load+fit 4096px/4MB, EXIF-rotated (re-encode)": lambda: fit(load(rotated), vendor_default),
        "load+fit 4096px/2MB (re-encode to byte limit)": lambda: fit(load(upright), two_megabytes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per scenario (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    upright, rotated = realistic_photo(1), realistic_photo(6)
    print(f"photo: {WIDTH}×{HEIGHT} JPEG, {len(upright) / 1e6:.2f} MB; {args.runs} runs per scenario")
    results = {}
    for name, action in scenarios(upright, rotated).items():
        results[name] = measure(action, args.runs)
        row = results[name]
        print(f"{name:48s} median {row['median_ms']:7.1f} ms   p95 {row['p95_ms']:7.1f} ms")
    peak = round(peak_rss_mb(), 1)
    print(f"peak RSS: {peak} MB")

    report = {
        "benchmark": "intake",
        "photo": {"width": WIDTH, "height": HEIGHT, "bytes": len(upright), "format": "JPEG"},
        "runs": args.runs,
        "scenarios": results,
        "peak_rss_mb": peak,
        "target": {"scenario": "load+fit 4096px/4MB", "median_ms_max": 100},
        "environment": {
            "python": platform.python_version(),
            "pillow": PIL.__version__,
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
