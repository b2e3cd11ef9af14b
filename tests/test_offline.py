"""The embedded engine works with no network at all: its models ship inside the installed packages.

The proof runs in a fresh interpreter, so no module imported earlier (and no model loaded by another test)
can help: sockets are blocked before anything of ours or rapidocr's is imported, then the engine loads
its models and reads a rendered licence. Any attempt to resolve a name or open a connection is recorded
and refused, and the models directory must be byte-for-byte what was installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, socket, sys

attempts = []

def refuse(*args, **kwargs):
    attempts.append(repr(args[:3]))
    raise OSError("network access is disabled in this test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
socket.gethostbyname = refuse

import io, random
from bot.vendors.local.ocr import models_dir
before = sorted((path.name, path.stat().st_size) for path in models_dir().iterdir())

from bot.images import load
from bot.vendors.local import LocalVendor
from tests.specimens import make_person, render_driving

image, truth = render_driving(make_person(random.Random(1)), "new", "front")
buffer = io.BytesIO()
image.save(buffer, "PNG")
recognition = LocalVendor().recognize_sync("driving", "front", load(buffer.getvalue()))

after = sorted((path.name, path.stat().st_size) for path in models_dir().iterdir())
print(json.dumps({
    "attempts": attempts,
    "fields": recognition.fields(),
    "truth": {key: truth[key] for key in ("number", "name", "class")},
    "models_unchanged": before == after,
    "model_count": len(before),
}, ensure_ascii=False))
"""


def test_engine_loads_and_reads_with_every_socket_blocked(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),  # no per-user model cache to fall back on
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []
    assert report["models_unchanged"] and report["model_count"] >= 3
    fields = report["fields"]
    assert {key: fields[key] for key in ("number", "name", "class")} == report["truth"]
