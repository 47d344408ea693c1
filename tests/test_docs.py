"""The README and the operator's guide name things that exist: linked files and sections, DAG ids,
make targets, and the DAGs' real schedules."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from zlv_dwh import ingest_files
from zlv_dwh.settings import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "OPERATIONS.md"
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# Written by another change; links to it are checked once it exists.
NOT_YET_WRITTEN = {REPO_ROOT / "docs" / "DUCKLAKE.md"}

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_DAG_ID = re.compile(r"""dag_id=(f?)["']([^"']+)["']""")
_CRON = re.compile(r"""(?:schedule=|CronTriggerTimetable\()["']([^"']+)["']""")


def _prose(path: Path) -> str:
    """The document without its code blocks."""
    return _FENCE.sub("", path.read_text(encoding="utf-8"))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[`*_]", "", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", _prose(path), re.MULTILINE)}


def relative_links(path: Path) -> list[tuple[str, Path | None, str]]:
    """(link, target file or None for the same file, anchor) of each relative link."""
    links = []
    for target in _LINK.findall(_prose(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        links.append((target, (path.parent / file_part).resolve() if file_part else None, anchor))
    return links


def dag_schedules() -> dict[str, list[str]]:
    """Every DAG id of dags/*.py and the cron expressions of its schedule, read from the files
    (one DAG file per file family expands over the families of file_families.yml)."""
    families = [f.name for f in ingest_files.load_config().families.values()]
    found: dict[str, list[str]] = {}
    for dag_file in sorted((REPO_ROOT / "dags").glob("*.py")):
        text = dag_file.read_text(encoding="utf-8")
        crons = _CRON.findall(text)
        for is_fstring, dag_id in _DAG_ID.findall(text):
            ids = [dag_id.replace("{family.name}", name) for name in families] if is_fstring else [dag_id]
            for expanded in ids:
                found[expanded] = crons
    return found


def test_anchor_rule_itself() -> None:
    assert github_anchor("Adding a file family, reading a quarantine") == "adding-a-file-family-reading-a-quarantine"
    assert (
        github_anchor("Support: running a source again, reading a failure") == "support-running-a-source-again-reading-a-failure"
    )
    assert github_anchor("Who can read `what`") == "who-can-read-what"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_at_existing_files_and_sections(document: Path) -> None:
    broken = []
    for link, target, anchor in relative_links(document):
        if target in NOT_YET_WRITTEN and not target.exists():
            continue
        if target is not None and not target.exists():
            broken.append(f"{link}: no such file")
            continue
        page = target or document
        if anchor and page.suffix == ".md" and anchor not in anchors(page):
            broken.append(f"{link}: no section #{anchor} in {page.name}")
    assert not broken, f"{document.name}: {broken}"


def test_the_readme_links_the_guide() -> None:
    targets = {target for _, target, _ in relative_links(REPO_ROOT / "README.md")}
    assert GUIDE.resolve() in targets


def test_dag_ids_named_in_the_guide_exist() -> None:
    dags = dag_schedules()
    assert {"zlv_ingest_production", "zlv_transform"} <= dags.keys(), "the DAG files were not read"
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"`(zlv_(?:ingest|transform|refresh|purge)[a-z_<>]*)`", text))
    unknown = sorted(n for n in named if "<" not in n and n not in dags)
    assert not unknown, f"the guide names DAGs that do not exist: {unknown}"
    assert dags.keys() <= named, f"DAGs the guide does not mention: {sorted(dags.keys() - named)}"


def test_refresh_table_gives_each_dag_its_real_schedule() -> None:
    rows = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        ids = re.findall(r"`(zlv_[a-z_]+)`", line)
        if line.startswith("|") and "`0 " in line and len(ids) == 1:
            rows[ids[0]] = set(re.findall(r"`([0-9*][0-9*/,\- ]+)`", line))
    for dag_id, crons in dag_schedules().items():
        if not crons:  # triggered by hand only (zlv_purge_publication): no row in the refresh table
            assert dag_id not in rows, f"{dag_id} has no schedule but a row in the refresh table"
            continue
        assert dag_id in rows, f"{dag_id} has no row in the guide's refresh table"
        assert set(crons) == rows[dag_id], f"{dag_id}: the guide says {sorted(rows[dag_id])}, dags/ says {crons}"


def test_make_targets_named_in_the_docs_exist() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z][\w-]*)\s*:(?!=)", makefile, re.MULTILINE))
    named = set()
    for document in [*DOCUMENTS, REPO_ROOT / "include" / "dbt" / "README.md"]:
        named |= set(re.findall(r"\bmake ([a-z][\w-]*)", document.read_text(encoding="utf-8")))
    assert {"backup", "restore", "manifest"} <= named
    missing = sorted(named - targets)
    assert not missing, f"make targets named in the docs but missing from the Makefile: {missing}"
