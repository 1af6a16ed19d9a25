"""Code citations of docs/architecture.md point at sections that exist.

Comments and docstrings cite ``docs/architecture.md §n`` (also ``§n, §m`` and ``§n and §m``);
every cited number must be a ``## n.`` heading of the document, and no file may cite the
founding design document outside the repository ("DESIGN n") instead.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
SCANNED = ("amssim", "tests", "benchmarks", "workloads")
CITATION = re.compile(r"docs/architecture\.md((?:,? ?(?:and )?§\d+)+)")
OLD_CITATION = re.compile(r"\bDESIGN(?: section)?[ -]\d+")


def _sources():
    files = [ROOT / "README.md"]
    for top in SCANNED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".md", ".toml") and p.is_file()]
    files.append(ROOT / "pyproject.toml")
    files.append(ROOT / ".ci" / "run")
    return files


def _sections():
    return {int(m) for m in re.findall(r"^## (\d+)\. ", DOC.read_text(encoding="utf-8"), re.M)}


def test_sections_are_numbered_without_gaps():
    nums = sorted(_sections())
    assert nums == list(range(1, len(nums) + 1))
    assert len(nums) >= 13  # 1 layout ... 13 public contract, the numbers the code cites


def test_every_citation_names_an_existing_section():
    sections = _sections()
    cited = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in CITATION.finditer(text):
            for n in re.findall(r"§(\d+)", m.group(1)):
                cited.setdefault(int(n), []).append(str(path.relative_to(ROOT)))
    assert cited, "no citation found: the scan is broken"
    missing = {n: files for n, files in cited.items() if n not in sections}
    assert not missing


def test_no_citation_of_the_external_design_document():
    this = Path(__file__).resolve()
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in _sources() if p.resolve() != this
            for m in OLD_CITATION.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not hits
