"""Locate a CJK font and hand out cached sizes of it.

Specimens must render the same way on a developer's machine and in CI, so the font is looked up in a fixed
order of known paths (the Debian packages .ci/run installs) before asking fontconfig; without a CJK font
every label would come out as boxes, so we stop with a message that names the package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

#: Environment variable that points at a font file to use instead of the search below.
FONT_ENV = "SPECIMEN_CJK_FONT"

#: (path, preferred face name fragment): wqy-zenhei first because CI installs it; Noto CJK next.
KNOWN_FONTS: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "Zen Hei"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "CJK SC"),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "CJK SC"),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "CJK SC"),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", ""),
)

MISSING_FONT_HELP = (
    "no CJK font found for rendering specimens; install the Debian package fonts-wqy-zenhei "
    "(apt-get install fonts-wqy-zenhei) or fonts-noto-cjk, or set " + FONT_ENV + " to a .ttf/.ttc/.otf file"
)


class FontNotFound(RuntimeError):
    """No font on this machine can draw Chinese; the message says which package to install."""


@dataclass(frozen=True)
class CjkFont:
    path: str
    index: int = 0


def _face_index(path: str, wanted: str) -> int:
    """Index of the face whose name contains `wanted` inside a .ttc collection (0 for plain files)."""
    if not wanted or not path.lower().endswith(".ttc"):
        return 0
    for index in range(16):
        try:
            face = ImageFont.truetype(path, 12, index=index)
        except OSError:
            break
        family, _style = face.getname()
        if wanted.lower() in (family or "").lower():
            return index
    return 0


def _draws_chinese(font: CjkFont) -> bool:
    """fontconfig may answer with a Latin font; a real CJK face draws 中 differently from its .notdef box."""
    try:
        face = ImageFont.truetype(font.path, 32, index=font.index)
    except OSError:
        return False
    han = face.getmask("中")
    missing = face.getmask("\U000f0000")  # private-use code point: every font draws .notdef here
    return han.getbbox() is not None and bytes(han) != bytes(missing)


def _fontconfig_candidates() -> list[str]:
    if shutil.which("fc-match") is None:
        return []
    found: list[str] = []
    for command in (["fc-match", "-f", "%{file}", ":lang=zh"], ["fc-list", ":lang=zh", "-f", "%{file}\n"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        found.extend(line.strip() for line in result.stdout.splitlines() if line.strip())
    return sorted(set(found), key=found.index)


@lru_cache(maxsize=1)
def find_cjk_font() -> CjkFont:
    """The font every specimen uses: $SPECIMEN_CJK_FONT, then known paths, then fontconfig."""
    override = os.environ.get(FONT_ENV)
    candidates: list[tuple[str, str]] = [(override, "")] if override else []
    candidates += list(KNOWN_FONTS)
    candidates += [(path, "CJK SC" if "Noto" in path else "") for path in _fontconfig_candidates()]
    for path, wanted in candidates:
        if not Path(path).is_file():
            continue
        font = CjkFont(path, _face_index(path, wanted))
        if _draws_chinese(font):
            return font
    raise FontNotFound(MISSING_FONT_HELP)


@lru_cache(maxsize=256)
def font(size: int) -> ImageFont.FreeTypeFont:
    """The CJK font at `size` pixels; cached because cards ask for the same few sizes thousands of times."""
    cjk = find_cjk_font()
    return ImageFont.truetype(cjk.path, max(1, int(size)), index=cjk.index)
