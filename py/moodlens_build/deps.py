"""What the build and the tools install: npm packages, and .venv with this project installed
into it (editable) with the Python dependencies of the converter, the tools and the tests."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

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


# -- .venv ----------------------------------------------------------------------------
def ensure_venv(extras: tuple[str, ...] = ()) -> Path:
    """.venv's Python, with this project installed editable (``pip install -e``: py/'s packages
    import from the working tree, so an edit needs no reinstall), its [project] dependencies
    (the converter's) and the [project.optional-dependencies] groups ``extras`` names: ``unit``
    (the CPython unit tests), ``tools`` (analyse, evaluate), ``test`` (the whole suite). pip runs
    only when pyproject.toml's [project] table changed or a group is asked for the first time."""
    python = VENV / "bin" / "python"
    if not python.exists():
        log("creating .venv…")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        except subprocess.CalledProcessError:
            raise BuildError("python3 -m venv failed; on Debian/Ubuntu install it: `sudo apt-get install python3-venv`") from None
    table = settings()["project"]
    project = hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()
    stamp = VENV / ".moodlens-installed"
    done = json.loads(stamp.read_text()) if stamp.exists() else {}
    have = set(done.get("extras", ())) if done.get("project") == project else None
    if have is None or not set(extras) <= _with_included(have, table):
        groups = sorted((have or set()) | set(extras))
        log(f"installing Moodlens and its {', '.join(groups) or 'build'} dependencies into .venv…")
        target = f"{ROOT}[{','.join(groups)}]" if groups else str(ROOT)
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--editable", target],
            f"the {', '.join(groups) or 'build'} dependencies")
        stamp.write_text(json.dumps({"project": project, "extras": groups}))
    return python


def _with_included(groups: set[str], project: dict) -> set[str]:
    """``groups`` and the groups they include by naming the project itself (``moodlens[unit]``)."""
    out, todo = set(), list(groups)
    while todo:
        group = todo.pop()
        if group in out:
            continue
        out.add(group)
        for requirement in project.get("optional-dependencies", {}).get(group, ()):
            name, _, rest = requirement.partition("[")
            if name.strip() == project["name"] and rest:
                todo += [g.strip() for g in rest.split("]")[0].split(",")]
    return out
