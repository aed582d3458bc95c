"""The site's own files, fetched and checked against what build.py wrote.

Contract: ``await fetch_site_file("models/x/manifest.json")`` -> (ArrayBuffer, bytes), or
:class:`DamagedFile` when the file came back with an HTTP error or with another size than
``files.json`` (build.py's list: path -> size in bytes) gives it.

    buffer, data = await fetch_site_file("models/index.json")
    # DamagedFile: "models/index.json is missing or damaged (673 bytes, expected 720)"

One check, one message. site/boot.js runs the same check (HTTP status, then size against
files.json) on the files the boot loads, until Python runs; from then on Python checks the
files it fetches itself, here. Both word a failure the same way (``damaged_message``; boot.js's
``damagedMessage`` mirrors it, and tests/e2e/test_failures.py holds each side back in turn and
compares the two), so a damaged file reads the same whichever side notices it first. What only
Python can check comes after this one, on a file that arrived as built: a model file's sha256
against its manifest (tfjs.fetch_checked), a manifest's fields, a model's shapes and labels.
"""

from __future__ import annotations

import json

from ._compat import js
from ._js import FetchError, JsError, fetch_any, settle

FILE_LIST = "files.json"
_expected: dict[str, int] | None = None  # files.json, read once


class DamagedFile(FetchError):
    """A site file that is missing (an HTTP error) or not the size build.py wrote."""

    def __init__(self, path: str, detail: str):
        super().__init__(damaged_message([(path, detail)]))
        self.path, self.detail = path, detail


def damaged_message(files: list[tuple[str, str]]) -> str:
    """``[(path, detail)]`` -> the sentence the page shows (boot.js: ``damagedMessage``)."""
    named = ", ".join(f"{path} ({detail})" for path, detail in files)
    return f"{named} {'is' if len(files) == 1 else 'are'} missing or damaged"


def size_detail(got: int, expected: int) -> str:
    return f"{got} bytes, expected {expected}"


async def expected_sizes() -> dict[str, int]:
    """files.json, or {} when it cannot be read (a site built before it existed: no size check)."""
    global _expected
    if _expected is None:
        try:
            response = await settle(js, "fetch", FILE_LIST)
            _expected = json.loads(str(await settle(response, "text"))) if response.ok else {}
        except (JsError, ValueError):
            _expected = {}
    return _expected


async def fetch_site_file(path: str):
    """Fetch ``path`` (relative to the page); return (ArrayBuffer, bytes) once it is as built."""
    response = await fetch_any(path)
    if not response.ok:
        raise DamagedFile(path, f"HTTP {response.status}")
    try:
        buffer = await settle(response, "arrayBuffer")
    except JsError as exc:
        raise FetchError(f"{path}: the download broke off ({exc})") from None
    data = js.Uint8Array.new(buffer).to_bytes()
    expected = (await expected_sizes()).get(path)
    if expected is not None and len(data) != expected:
        raise DamagedFile(path, size_detail(len(data), expected))
    return buffer, data


async def fetch_site_json(path: str):
    """A site JSON file (the model list, a manifest), checked as above, parsed."""
    _, data = await fetch_site_file(path)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise FetchError(f"{path}: not valid JSON ({exc})") from None
