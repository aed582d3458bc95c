"""What the build and the tools install: npm packages, the browser engines (Debian packages,
as root), the .venv with the converter's, the tools' and the tests' Python dependencies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from moodlens_tools.engines import ENGINES, find_chromium
from moodlens_tools.engines import missing as engine_missing

from .paths import NODE, ROOT, VENV
from .steps import BuildError, log, run, settings, sha256


# -- inputs ---------------------------------------------------------------------------
def npm_packages() -> None:
    """`npm ci` when node_modules does not match package-lock.json."""
    stamp = NODE / ".moodlens-lock-sha256"
    want = sha256(ROOT / "package-lock.json")
    if stamp.exists() and stamp.read_text() == want:
        return
    if shutil.which("npm") is None:
        raise BuildError("npm not found: install Node.js 20+ (which includes npm) and run again")
    log("installing npm packages (npm ci)…")
    run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], "npm packages")
    stamp.write_text(want)


def package_version(name: str) -> str:
    with open(NODE / name / "package.json", encoding="utf-8") as fh:
        return json.load(fh)["version"]


# -- testing --------------------------------------------------------------------------
def ensure_engines(names: tuple[str, ...] = ENGINES) -> str:
    """Install the browser engines the tests drive (Debian's chromium, firefox-esr,
    webkit2gtk-driver + xvfb) when run as root; otherwise say what is missing. Chromium is
    required; an engine that cannot be installed makes its own tests fail with the same message.
    Returns Chromium's path."""
    needed = [pkg for name in names if (pkg := engine_missing(name))]
    if needed and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing browser engines (apt-get install {' '.join(needed)})…")
        run(["apt-get", "update", "-qq"], "apt-get update")
        run(["apt-get", "install", "-y", "-qq", *" ".join(needed).split()], "browser engine install",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    still = {name: pkg for name in names if (pkg := engine_missing(name))}
    if "chromium" in still:
        raise BuildError("Chromium is missing. Install it (Debian/Ubuntu: `sudo apt-get install chromium`) "
                         "or point MOODLENS_CHROMIUM at a Chrome/Chromium binary, then run again.")
    for name, pkg in still.items():
        log(f"WARNING: {name} is not installed, so its tests will fail; install it with "
            f"`sudo apt-get install {pkg}` (or run the other engines: MOODLENS_ENGINES=chromium)")
    return find_chromium()


def ensure_venv(tests: bool = True, groups: tuple[str, ...] | None = None) -> Path:
    """.venv with the converter's dependencies ([project] dependencies) and, with ``tests``, the
    test suite's; ``groups`` names [project.optional-dependencies] groups instead (``tools``:
    what `analyse` and `evaluate` need)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log("creating .venv…")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        except subprocess.CalledProcessError:
            raise BuildError("python3 -m venv failed; on Debian/Ubuntu install it: `sudo apt-get install python3-venv`") from None
    project = settings()["project"]
    wanted = ("build", *(groups if groups is not None else (("tools", "test") if tests else ())))
    for group in wanted:
        deps = project["dependencies"] if group == "build" else project["optional-dependencies"][group]
        stamp = VENV / f".moodlens-{group}-deps"
        if not stamp.exists() or stamp.read_text() != "\n".join(deps):
            log(f"installing {group} dependencies into .venv…")
            run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *deps],
                f"{group} dependencies")
            stamp.write_text("\n".join(deps))
    return python


def _py_env() -> dict:
    paths = [str(ROOT / "py"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
