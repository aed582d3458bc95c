"""Pyodide's wheels: fetched from the PyPI package that carries them, checked against the sha256
in Pyodide's own lock file, and slimmed to what the page imports."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from .paths import CACHE, NODE
from .steps import BuildError, log, run, sha256


def pyodide_wheels(conf: dict, names: list[str] | None = None) -> list[Path]:
    """The Pyodide wheels the app loads (``names``, default pyproject's ``pyodide-packages``),
    cached in .cache/wheels and checked against the lock."""
    lock = json.loads((NODE / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    names = conf["pyodide-packages"] if names is None else names
    wanted = {lock[name]["file_name"]: lock[name]["sha256"] for name in names}
    wheel_dir = CACHE / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    missing = [f for f, digest in wanted.items() if not (wheel_dir / f).exists() or sha256(wheel_dir / f) != digest]
    if missing:
        source = _download_wheel_source(conf["pyodide-wheels-source"])
        with zipfile.ZipFile(source) as archive:
            for name in missing:
                member = conf["pyodide-wheels-dir"] + name
                try:
                    data = archive.read(member)
                except KeyError:
                    raise BuildError(f"{source.name} has no {member}") from None
                (wheel_dir / name).write_bytes(data)
    for name, digest in wanted.items():
        got = sha256(wheel_dir / name)
        if got != digest:
            (wheel_dir / name).unlink()
            raise BuildError(f"{name}: sha256 {got} does not match pyodide-lock.json's {digest}")
    return [wheel_dir / name for name in wanted]


def slim_wheel(wheel: Path, omit: list[str], dest: Path) -> Path:
    """A copy of ``wheel`` without the members ``omit`` names (folder prefixes ending in "/",
    or "*.suffix" patterns), and without their lines in the wheel's RECORD. Deterministic:
    the same input gives the same bytes, so the lock file's sha256 is stable."""
    def dropped(name: str) -> bool:
        return any(name.endswith(p[1:]) if p.startswith("*") else name.startswith(p) for p in omit)

    out = dest / hashlib.sha256(json.dumps([sha256(wheel), omit]).encode()).hexdigest()[:16] / wheel.name
    if out.exists():  # made before from the same wheel and the same list
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if dropped(info.filename):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if not dropped(line.split(",", 1)[0])).encode()
            kept = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            kept.external_attr = info.external_attr
            dst.writestr(kept, data, zipfile.ZIP_DEFLATED, 9)
    partial.rename(out)
    return out


def _download_wheel_source(requirement: str) -> Path:
    dest = CACHE / "pypi"
    dest.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(dest.glob(pattern))
    if not found:
        if importlib.util.find_spec("pip") is None:
            raise BuildError(f"pip is missing, needed to download {requirement} "
                             "(Debian/Ubuntu: `sudo apt-get install python3-pip`)")
        log(f"downloading {requirement} from PyPI (Pyodide wheels)…")
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
             requirement], f"download of {requirement}", stdout=subprocess.DEVNULL)
        found = sorted(dest.glob(pattern))
    if not found:
        raise BuildError(f"pip downloaded no file matching {pattern} for {requirement}")
    return found[-1]
