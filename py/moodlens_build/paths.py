"""Where things are: the project, its output and the folders downloads are cached in."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # py/moodlens_build/ -> the project
DIST = ROOT / "dist"  # the site build.py assembles
CACHE = ROOT / ".cache"  # downloads and build products kept between builds (outside git)
NODE = ROOT / "node_modules"  # npm packages, pinned in package-lock.json
VENV = ROOT / ".venv"  # CPython for the converter, the tools and the tests
