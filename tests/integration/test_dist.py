"""What build.py assembled into dist/, read back: the app's zip is the moodlens package whole,
with its bytecode, and nothing of the build or the tools."""

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


def test_the_app_zip_is_the_moodlens_package_and_nothing_build_time(shipped):
    package = {p.relative_to(ROOT / "py").as_posix() for p in (ROOT / "py" / "moodlens").rglob("*.py")}
    sources = {n for n in shipped.namelist() if n.endswith(".py")}
    assert sources == package, "dist/ is older than py/moodlens (run `python3 build.py`), or the zip left some out"
    assert not any(n.startswith(("moodlens_build/", "moodlens_tools/")) for n in shipped.namelist())
