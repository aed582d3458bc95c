"""What every build step does besides its own work: say what it does, fail with a message that
names the file and why, hash a file, run a command, copy a file, read pyproject.toml's settings."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from pathlib import Path

from .paths import ROOT


class BuildError(SystemExit):
    """A build step that cannot go on; the message says which file and why."""

    def __init__(self, message: str):
        super().__init__(f"build failed: {message}")


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def settings() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def run(cmd: list[str], what: str, **kwargs) -> None:
    try:
        subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)
    except FileNotFoundError:
        raise BuildError(f"{what}: '{cmd[0]}' is not installed (needed: {what})") from None
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"{what}: '{' '.join(cmd)}' exited with {exc.returncode}") from None


def copy(src: Path, dest: Path) -> None:
    if not src.exists():
        raise BuildError(f"{src} is missing (is the npm package installed? run `npm ci`)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
