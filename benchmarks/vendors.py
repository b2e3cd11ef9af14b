"""What each cloud OCR adapter costs us per call, and whether it keeps many calls in flight at once.

Two figures per adapter, both for a driving-licence photo already within every vendor's limits (so
`prepare` passes the bytes through and nothing is re-encoded):

- **added**: the time our code adds to one call — fit check, base64, request body, signature, httpx
  plumbing, answer parsing into a `Recognition` — with the network taken out. Each adapter first makes
  one real call to its loopback fake, recording the answers; then it is rebuilt on an
  `httpx.MockTransport` that replays them instantly, and `--calls` sequential calls are timed after a
  warm-up. Target (issue): median ≤ 5 ms.
- **concurrent**: `--concurrent` calls at once through ONE adapter (max_concurrency ≥ 100) against the
  real loopback fake answering each request after `--delay` seconds. Target: all done within 0.5 s for
  100 calls at 200 ms, i.e. no serialization anywhere and connections pooled. One call goes first as a
  warm-up (buys Baidu's access token, opens the pool); the burst itself starts with cold connections
  beyond that one, as a real burst would. `server_peak_in_flight` (fakes that count it) shows how many
  requests the fake held at the same moment, which tells an adapter bottleneck from a fake one.

Adapters whose module or fake does not import (one still being written, say) are listed as skipped.

    python benchmarks/vendors.py --calls 200 --concurrent 100 --delay 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
from httpx_aiohttp import AiohttpTransport
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python benchmarks/vendors.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import percentile  # noqa: E402
from bot.images import IntakeImage, load  # noqa: E402
from bot.vendors.base import Vendor, VendorError  # noqa: E402
from bot.vendors.http import RetryPolicy  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "vendors.json"
KIND, SIDE = "driving", "front"
ADDED_TARGET_MS = 5.0
BURST_TARGET_S = 0.5
WARMUP_CALLS = 20
#: One attempt only: a retry would hide a failed or timed-out call inside a longer wall time.
NO_RETRY = RetryPolicy(attempts=1)

# ----------------------------------------------------------------------------------------- adapters


@dataclass
class Adapter:
    """How to run one vendor against its fake; every hook takes the running fake server."""

    name: str
    #: the fake's class: called with no arguments, or with `backlog=` for a larger accept queue
    start: Callable[..., AbstractContextManager[Any]]
    #: (fake, max_concurrency, transport or None for real HTTP) -> adapter pointed at the fake
    build: Callable[[Any, int, httpx.AsyncBaseTransport | None], Vendor]
    #: (fake, delay, count): the next `count` OCR answers each take `delay` seconds
    slow_down: Callable[[Any, float, int], None]
    #: peak simultaneous requests the fake saw, where it counts them
    peak_in_flight: Callable[[Any], int | None] = lambda fake: None


def _tencent() -> Adapter:
    from bot.vendors.tencent import TencentSettings, TencentVendor
    from tests.fakes.tencent_server import FakeTencent, Reply

    def build(fake: FakeTencent, cap: int, transport: httpx.AsyncBaseTransport | None) -> Vendor:
        settings = TencentSettings(
            endpoint=fake.url, secret_id=fake.secret_id, secret_key=fake.secret_key, max_concurrency=cap
        )  # type: ignore[arg-type]
        return TencentVendor(settings, retry=NO_RETRY, transport=transport)

    return Adapter(
        "tencent",
        FakeTencent,
        build,
        lambda fake, delay, count: fake.answer(*[Reply.slow(delay)] * count),
        lambda fake: fake.max_in_flight,
    )


def _tencent_legacy() -> Adapter:
    from bot.vendors.tencent_legacy import TencentLegacySettings, TencentLegacyVendor
    from tests.fakes.tencent_legacy_server import FakeTencentLegacy, Reply

    def build(fake: FakeTencentLegacy, cap: int, transport: httpx.AsyncBaseTransport | None) -> Vendor:
        settings = TencentLegacySettings(
            endpoint=fake.url,
            app_id=fake.app_id,
            bucket=fake.bucket,
            secret_id=fake.secret_id,
            secret_key=fake.secret_key,
            max_concurrency=cap,
        )  # type: ignore[arg-type]
        return TencentLegacyVendor(settings, retry=NO_RETRY, transport=transport)

    return Adapter(
        "tencent_legacy",
        FakeTencentLegacy,
        build,
        lambda fake, delay, count: fake.answer(*[Reply.slow(delay)] * count),
    )


def _baidu() -> Adapter:
    from bot.vendors.baidu import BaiduSettings, BaiduVendor
    from tests.fakes.baidu_server import FakeBaidu, Slow

    def build(fake: FakeBaidu, cap: int, transport: httpx.AsyncBaseTransport | None) -> Vendor:
        settings = BaiduSettings(
            endpoint=fake.url, api_key=fake.api_key, secret_key=fake.secret_key, max_concurrency=cap
        )  # type: ignore[arg-type]
        return BaiduVendor(settings, retry=NO_RETRY, transport=transport)

    return Adapter(
        "baidu",
        FakeBaidu,
        build,
        lambda fake, delay, count: fake.script("driving_license", *[Slow(delay)] * count),
    )


def _megvii() -> Adapter:
    from bot.vendors.megvii import MegviiSettings, MegviiVendor
    from tests.fakes.megvii_server import FakeMegvii, Slow

    def build(fake: FakeMegvii, cap: int, transport: httpx.AsyncBaseTransport | None) -> Vendor:
        settings = MegviiSettings(
            endpoint=fake.url,
            faceplusplus_endpoint=fake.url + "/",
            api_key=fake.api_key,
            api_secret=fake.api_secret,
            max_concurrency=cap,
        )  # type: ignore[arg-type]
        return MegviiVendor(settings, retry=NO_RETRY, transport=transport)

    return Adapter(
        "megvii",
        FakeMegvii,
        build,
        lambda fake, delay, count: fake.script("cardpp_driver", *[Slow(delay)] * count),
    )


def _huawei() -> Adapter:
    from bot.vendors.huawei import HuaweiSettings, HuaweiVendor
    from tests.fakes.huawei_server import FakeHuawei, Reply

    def build(fake: FakeHuawei, cap: int, transport: httpx.AsyncBaseTransport | None) -> Vendor:
        settings = HuaweiSettings(
            endpoint=fake.url,
            iam_endpoint=fake.url,
            project_id=fake.project_id,
            region=fake.region,
            ak=fake.ak,
            sk=fake.sk,
            max_concurrency=cap,
        )  # type: ignore[arg-type]
        return HuaweiVendor(settings, retry=NO_RETRY, transport=transport)

    return Adapter(
        "huawei",
        FakeHuawei,
        build,
        lambda fake, delay, count: fake.answer(*[Reply.slow(delay)] * count),
        lambda fake: fake.max_in_flight,
    )


FACTORIES: dict[str, Callable[[], Adapter]] = {
    "tencent": _tencent,
    "tencent_legacy": _tencent_legacy,
    "baidu": _baidu,
    "megvii": _megvii,
    "huawei": _huawei,
}


def load_adapters(names: Sequence[str]) -> tuple[list[Adapter], dict[str, str]]:
    """The adapters that import, and why the others were skipped (an adapter mid-rewrite must not
    stop the others from being measured)."""
    adapters: list[Adapter] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            adapters.append(FACTORIES[name]())
        except Exception as exc:  # ImportError, or a half-written module failing at import time
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return adapters, skipped


# ------------------------------------------------------------------------------------------ photo


def card_photo(width: int = 1000, height: int = 700, seed: int = 7) -> IntakeImage:
    """A ~1000×700 JPEG with texture and noise, so it is as large as a real card photo of that size
    (flat synthetic images compress to a few KB and would flatter base64 and hashing)."""
    rng = np.random.default_rng(seed)
    coarse = rng.normal(128.0, 35.0, (height // 10, width // 10, 3)).clip(0, 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
    noisy = texture.astype(np.float32) + rng.normal(0.0, 6.0, texture.shape).astype(np.float32)
    buffer = io.BytesIO()
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return load(buffer.getvalue())


# ------------------------------------------------------------------------------------------ added


class RecordingTransport(httpx.AsyncBaseTransport):
    """Real HTTP that keeps the last answer per URL path, so the same answers can be replayed offline."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.answers: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        self.answers[request.url.path] = (response.status_code, list(response.headers.multi_items()), body)
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def replay(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            status, headers, body = self.answers[request.url.path]
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(answer)


async def measure_added(
    adapter: Adapter, photo: IntakeImage, calls: int, replay_into: dict[str, Any] | None = None
) -> dict[str, Any]:
    with adapter.start() as fake:
        if replay_into is not None:
            fields = {field: getattr(fake, field) for field in FAKE_FIELDS if hasattr(fake, field)}
            replay_into["fields"] = fields
        recorder = RecordingTransport()
        live = adapter.build(fake, 8, recorder)
        try:
            await live.recognize(KIND, SIDE, photo)
        finally:
            await live.aclose()
        vendor = adapter.build(fake, 8, recorder.replay())
    if replay_into is not None:
        replay_into["answers"] = dict(recorder.answers)
    try:
        for _ in range(min(WARMUP_CALLS, max(1, calls))):
            recognition = await vendor.recognize(KIND, SIDE, photo)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            recognition = await vendor.recognize(KIND, SIDE, photo)
            samples.append((time.perf_counter() - started) * 1000.0)
    finally:
        await vendor.aclose()
    return {
        "calls": calls,
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(percentile(samples, 0.95), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "recognized": not recognition.is_empty(),
        "requests_per_call": sorted(recorder.answers),
    }


# -------------------------------------------------------------------------------------- concurrent


async def timed_call(vendor: Vendor, photo: IntakeImage, started: float) -> tuple[float, str]:
    """Seconds from the burst's start to this call's end, and "ok" or the failure's category."""
    try:
        recognition = await vendor.recognize(KIND, SIDE, photo)
        outcome = "empty" if recognition.is_empty() else "ok"
    except VendorError as error:
        outcome = f"{error.category}:{error.code}"
    return time.perf_counter() - started, outcome


class CapturingTransport(AiohttpTransport):
    """The adapters' own transport, keeping the last request sent so the fake's speed can be measured
    alone."""

    last: httpx.Request | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.last = request
        return await super().handle_async_request(request)


async def raw_burst(request: httpx.Request | None, count: int, cap: int) -> float:
    """Wall seconds for `count` copies of an adapter's request sent at once through the same transport
    with none of our code around it: the floor the fake allows. An adapter near this figure is not the
    bottleneck; the fake is."""
    if request is None:
        return float("nan")
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=cap, max_keepalive_connections=cap))
    async with httpx.AsyncClient(transport=transport, timeout=30.0) as client:

        async def send() -> None:
            await client.request(
                request.method, request.url, headers=request.headers, content=request.content
            )

        started = time.perf_counter()
        await asyncio.gather(*(send() for _ in range(count)))
        return time.perf_counter() - started


#: Attributes of a fake that adapters are built from (its address and the credentials it accepts).
FAKE_FIELDS = (
    "url",
    "secret_id",
    "secret_key",
    "app_id",
    "bucket",
    "api_key",
    "api_secret",
    "project_id",
    "region",
    "ak",
    "sk",
)


def serve_fake(name: str, delay: float, count: int, backlog: int, conn: Connection) -> None:
    """Run one fake in its own process, so that its request parsing does not compete with the adapter
    for the GIL: a real vendor does not slow our event loop down, and neither may its stand-in.
    The first answer is immediate (the warm-up call), the next `count` take `delay` seconds.

    `backlog` > 0 starts the fake with that accept queue: socketserver's default of 5 makes the kernel
    refuse a burst of new connections (ReadError), which measures the fake, not us.
    """
    adapter = FACTORIES[name]()
    with adapter.start(**({"backlog": backlog} if backlog > 0 else {})) as fake:
        adapter.slow_down(fake, 0.0, 1)
        adapter.slow_down(fake, delay, 2 * count)  # our burst, then the same requests sent raw
        conn.send({field: getattr(fake, field) for field in FAKE_FIELDS if hasattr(fake, field)})
        conn.recv()  # the burst is over
        conn.send(adapter.peak_in_flight(fake))


async def measure_concurrent(
    adapter: Adapter, photo: IntakeImage, count: int, delay: float, backlog: int
) -> dict[str, Any]:
    cap = max(100, count)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_fake, args=(adapter.name, delay, count, backlog, theirs), daemon=True
    )
    server.start()
    try:
        fake = SimpleNamespace(**ours.recv())
        capture = CapturingTransport(limits=httpx.Limits(max_connections=cap, max_keepalive_connections=cap))
        vendor = adapter.build(fake, cap, capture)
        try:
            await vendor.recognize(KIND, SIDE, photo)  # warm-up: token, imports, first connection
            started = time.perf_counter()
            results = await asyncio.gather(*(timed_call(vendor, photo, started) for _ in range(count)))
            wall = time.perf_counter() - started
        finally:
            await vendor.aclose()
        raw_wall = await raw_burst(capture.last, count, cap)
        ours.send("done")
        peak = ours.recv()
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    finished = [seconds for seconds, _ in results]
    outcomes = Counter(outcome for _, outcome in results)
    return {
        "calls": count,
        "delay_s": delay,
        "max_concurrency": cap,
        "wall_s": round(wall, 3),
        "completed": outcomes.pop("ok", 0),
        "failed": dict(outcomes),
        "median_finish_s": round(statistics.median(finished), 3),
        "serial_would_take_s": round(count * delay, 3),
        "server_peak_in_flight": peak,
        "raw_same_requests_wall_s": round(raw_wall, 3),
        "fake_listen_backlog": backlog or "socketserver default (5)",
    }


def serve_replay(answers: dict[str, Any], delay: float, conn: Connection) -> None:
    """An asyncio server that answers every request with the vendor's recorded answer for that path
    after `delay` seconds, checking nothing: the verifying fakes are thread-per-connection and parse
    and verify every upload, so under a burst they, not the adapter, set the pace. Against this one the
    burst shows what the adapter itself adds (pooling, concurrency limits, serialization)."""
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def answer(request: Request) -> Response:
        await request.body()
        status, headers, body = answers[request.url.path]
        await asyncio.sleep(delay)
        hop_by_hop = ("content-length", "transfer-encoding", "connection")
        kept = {key: value for key, value in headers if key.lower() not in hop_by_hop}
        return Response(body, status_code=status, headers=kept)

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="error", backlog=2048, lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


async def measure_replay_burst(
    adapter: Adapter, photo: IntakeImage, recorded: dict[str, Any], count: int, delay: float
) -> dict[str, Any]:
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_replay, args=(recorded["answers"], delay, theirs), daemon=True
    )
    server.start()
    try:
        port = ours.recv()
        fields = {**recorded["fields"], "url": f"http://127.0.0.1:{port}"}
        vendor = adapter.build(SimpleNamespace(**fields), max(100, count), None)
        try:
            await _wait_until_listening(port)
            await vendor.recognize(KIND, SIDE, photo)  # warm-up: token, first connection
            started = time.perf_counter()
            results = await asyncio.gather(*(timed_call(vendor, photo, started) for _ in range(count)))
            wall = time.perf_counter() - started
        finally:
            await vendor.aclose()
    finally:
        server.kill()
        server.join(timeout=10)
    outcomes = Counter(outcome for _, outcome in results)
    return {"calls": count, "delay_s": delay, "wall_s": round(wall, 3), "completed": outcomes.pop("ok", 0)}


async def _wait_until_listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("the replay server did not start")


# ------------------------------------------------------------------------------------------ report


def run(adapters: Sequence[Adapter], photo: IntakeImage, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for adapter in adapters:
        recorded: dict[str, Any] = {}
        added = asyncio.run(measure_added(adapter, photo, args.calls, recorded))
        concurrent = asyncio.run(
            measure_concurrent(adapter, photo, args.concurrent, args.delay, args.backlog)
        )
        replay = asyncio.run(measure_replay_burst(adapter, photo, recorded, args.concurrent, args.delay))
        results[adapter.name] = {"added": added, "concurrent": concurrent, "replay_burst": replay}
    return results


def burst_met(burst: dict[str, Any]) -> bool:
    return bool(burst["wall_s"] <= BURST_TARGET_S and burst["completed"] == burst["calls"])


def table(results: dict[str, Any], skipped: dict[str, str]) -> str:
    header = (
        f"{'adapter':<15} {'added med ms':>12} {'p95 ms':>8} {'≤5ms':>5} "
        f"{'burst wall s':>12} {'done':>9} {'peak':>5} {'≤0.5s':>6} {'raw send s':>11} "
        f"{'replay s':>9} {'done':>9} {'≤0.5s':>6}"
    )
    lines = [header, "-" * len(header)]
    for name, figures in results.items():
        added, burst, replay = figures["added"], figures["concurrent"], figures["replay_burst"]
        peak = burst["server_peak_in_flight"]
        lines.append(
            f"{name:<15} {added['median_ms']:>12.2f} {added['p95_ms']:>8.2f} "
            f"{'yes' if added['median_ms'] <= ADDED_TARGET_MS else 'NO':>5} "
            f"{burst['wall_s']:>12.3f} {burst['completed']:>4}/{burst['calls']:<4} "
            f"{'-' if peak is None else peak:>5} "
            f"{'yes' if burst_met(burst) else 'NO':>6} "
            f"{burst['raw_same_requests_wall_s']:>11.3f} "
            f"{replay['wall_s']:>9.3f} {replay['completed']:>4}/{replay['calls']:<4} "
            f"{'yes' if burst_met(replay) else 'NO':>6}"
        )
    lines.extend(f"{name:<15} skipped: {reason}" for name, reason in skipped.items())
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200, help="timed sequential calls per adapter (added)")
    parser.add_argument("--concurrent", type=int, default=100, help="calls launched at once per adapter")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each fake answer takes (burst)")
    parser.add_argument(
        "--backlog",
        type=int,
        default=1024,
        help="fake's listen backlog for the burst; 0 keeps its default of 5",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--only", nargs="*", choices=sorted(FACTORIES), help="measure just these adapters")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    adapters, skipped = load_adapters(args.only or list(FACTORIES))
    photo = card_photo()
    results = run(adapters, photo, args)
    report = {
        "benchmark": "vendors",
        "photo": {
            "format": photo.format,
            "width": photo.width,
            "height": photo.height,
            "bytes": len(photo.data),
        },
        "settings": {
            "calls": args.calls,
            "concurrent": args.concurrent,
            "delay_s": args.delay,
            "warmup_calls": WARMUP_CALLS,
            "request": f"{KIND}/{SIDE}",
        },
        "targets": {"added_median_ms": ADDED_TARGET_MS, "concurrent_wall_s": BURST_TARGET_S},
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "httpx": httpx.__version__,
        },
        "adapters": results,
        "skipped": skipped,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"photo {photo.width}×{photo.height} {photo.format}, {len(photo.data) // 1024} KB; "
        f"burst: {args.concurrent} calls, fake answers in {args.delay * 1000:.0f} ms"
    )
    print(table(results, skipped))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
