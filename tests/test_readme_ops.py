"""The README's operator-coverage table names every op kind of the trace op table."""

import os
import re

from amssim.trace.ops import SPECS

README = os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")


def test_every_op_kind_is_in_the_coverage_table():
    text = open(README, encoding="utf-8").read()
    start = text.index("| family | trace kinds |")
    rows = [r for r in text[start:].split("\n\n")[0].splitlines() if r.startswith("|")]
    listed = set()
    for r in rows[2:]:
        listed.update(re.findall(r"`([a-z0-9_]+)`", r.split("|")[2]))
    assert listed == set(SPECS), (sorted(set(SPECS) - listed), sorted(listed - set(SPECS)))
