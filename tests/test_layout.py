"""The house rules of ../shared/ARCHITECTURE.md, checked on the tree: what each room may import,
module sizes, app/'s top level, and a README Layout section that names every folder and module."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

MAX_LINES = 500
# Migrations are exempt (the issue also exempts the demo generator's per-table modules, but
# since its split none of them needs to be).
SIZE_EXEMPT = re.compile(r"^app/migrations/")

# room → top-level packages it must never import
NEVER = {
    "models": ("streamlit", "sqlmodel", "sqlalchemy", "app", "pages", "review_queue", "altair"),
    "review_queue": ("streamlit", "pages", "app", "altair"),
    "app": ("pages",),
}
STREAMLIT_ALLOWED = ("app/web/", "app/main.py", "pages/")


def _tracked(pattern: str = "*.py") -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", pattern], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [f for f in out if (REPO / f).exists()]


def _imports(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("room", sorted(NEVER))
def test_each_room_imports_only_what_it_may(room: str) -> None:
    broken = {
        path: sorted(_imports(path) & set(NEVER[room]))
        for path in _tracked(f"{room}/*.py")
        if _imports(path) & set(NEVER[room]) and "migrations/" not in path
    }
    assert broken == {}


def test_only_the_web_glue_and_the_pages_import_streamlit() -> None:
    users = [
        p
        for p in _tracked()
        if "streamlit" in _imports(p) and not p.startswith((*STREAMLIT_ALLOWED, "tests/"))
    ]
    assert users == []


def test_pages_build_no_sessions_and_write_no_sql() -> None:
    """A page calls services through reading()/writing(); it never opens a Session itself,
    imports the engine or writes SQL."""
    offenders = {}
    for path in _tracked("pages/*.py"):
        text = (REPO / path).read_text(encoding="utf-8")
        bad = [
            word
            for word in ("Session(", "session_scope", "create_engine", "text(", "sqlalchemy")
            if word in text
        ]
        if bad:
            offenders[path] = bad
    assert offenders == {}


def test_no_module_is_over_500_lines() -> None:
    long = {
        p: n
        for p in _tracked()
        if not SIZE_EXEMPT.match(p)
        and (n := len((REPO / p).read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_app_has_no_module_at_its_top_but_the_entry() -> None:
    top = sorted(p for p in _tracked("app/*.py") if p.count("/") == 1)
    assert top == ["app/__init__.py", "app/main.py"]


def _layout_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Layout")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def test_the_readme_layout_names_every_folder_and_module() -> None:
    layout = _layout_section()
    files = [
        p for p in _tracked() if not p.endswith("__init__.py") and "migrations/versions/" not in p
    ]
    folders = sorted({str(Path(p).parent) for p in files if "/" in p})
    missing_folders = [f for f in folders if f"`{f}/`" not in layout]
    # every module of the product is named; tests only by folder (they mirror the code)
    product = [p for p in files if not p.startswith("tests/")]
    missing_modules = [p for p in product if f"`{Path(p).name}`" not in layout]
    assert missing_folders == [], "folders the README's Layout section does not name"
    assert missing_modules == [], "modules the README's Layout section does not name"
    named = set(re.findall(r"`([\w./-]+\.py)`", layout))
    stale = sorted(n for n in named if not any(p.endswith("/" + n) or p == n for p in files))
    assert stale == [], "modules the Layout section names that do not exist"
