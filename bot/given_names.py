"""How often people are given each character in their given names.

The embedded engine reads a blurred given name as the look-alike people are named with
(bot/vendors/local/person_names.py), and the specimens can draw names as real people bear them
(tests/specimens/data.py). Both read the one table: ngender's ``charfreq.csv`` (9,442 characters over
some 32 million given-name characters of real names), from the installed package rather than copied
here. Only the file is read; the package's own code guesses a name's sex, which nothing here needs.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def given_name_counts() -> dict[str, tuple[int, int]]:
    """Each given-name character and how many men's and women's names hold it, in the table's order."""
    text = resources.files("ngender").joinpath("charfreq.csv").read_text(encoding="utf-8")
    rows = [row for row in csv.reader(io.StringIO(text)) if len(row) == 3 and row[1].isdigit()]
    return {char: (int(men), int(women)) for char, men, women in rows}
