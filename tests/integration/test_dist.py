"""What build.py assembled into dist/, read back: the app's zip is the moodlens package whole,
with PyScript's own Python files and their bytecode, and nothing of the build or the tools."""

from __future__ import annotations

import zipfile

import pytest

from moodlens_build import site
from moodlens_build.paths import DIST, ROOT


@pytest.fixture(scope="module")
def shipped():
    if not (DIST / "moodlens.zip").exists():
        site.build()
    with zipfile.ZipFile(DIST / "moodlens.zip") as archive:
        yield archive


def test_pyscripts_python_files_ship_with_their_bytecode(shipped):
    """The pinned PyScript: every module it writes and imports at start ships with its bytecode.
    (The .pyc are unchecked: compiled from the zip's sources, which must be what PyScript writes.)"""
    real = site.pyscript_sources(site.pyscript_core_chunk())
    assert "pyscript/__init__.py" in real and len(real) >= 10
    for name, source in real.items():
        folder, base = name.rsplit("/", 1)
        assert shipped.read(name) == source
        assert f"{folder}/__pycache__/{base[:-3]}.cpython-312.pyc" in shipped.namelist()


def test_the_app_zip_is_the_moodlens_package_and_nothing_build_time(shipped):
    package = {p.relative_to(ROOT / "py").as_posix() for p in (ROOT / "py" / "moodlens").rglob("*.py")}
    sources = {n for n in shipped.namelist() if n.endswith(".py") and not n.startswith("pyscript/")}
    assert sources == package, "dist/ is older than py/moodlens (run `python3 build.py`), or the zip left some out"
    assert not any(n.startswith(("moodlens_build/", "moodlens_tools/")) for n in shipped.namelist())
