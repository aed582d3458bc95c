"""The site's model files and lists, fetched by Python: one owner for their checks.

Contract: ``await fetch_site_file("models/x/manifest.json")`` -> (ArrayBuffer, bytes), or
:class:`DamagedFile` when the file came back with an HTTP error.

    buffer, data = await fetch_site_file("models/index.json")
    # DamagedFile: "models/index.json (HTTP 404) is missing or damaged"

One owner per check, one message per failure. site/boot.js checks the files the boot loads
(the runtime, PyScript, TF.js, the app's package: HTTP status and size against build.py's
files.json) and nothing under ``models/``; Python checks everything under ``models/`` (the
model list, each manifest, each model file: HTTP status here, then a model file's sha256
against its manifest in tfjs.fetch_checked, a manifest's fields, a model's shapes and labels).
So a damaged file is noticed by one side only, whatever the timing. Both word it the same way:
``damaged_message`` here, ``damagedMessage`` in boot.js. (A size check against files.json
here would be a second owner, and wrong while an update waits: the service worker serves the
old files.json with a new deploy's model files.)
"""

from __future__ import annotations

import json

from ._compat import js
from ._js import FetchError, JsError, fetch_any, settle


class DamagedFile(FetchError):
    """A site file that is missing (an HTTP error) or not what was built."""

    def __init__(self, path: str, detail: str):
        super().__init__(damaged_message([(path, detail)]))
        self.path, self.detail = path, detail


def damaged_message(files: list[tuple[str, str]]) -> str:
    """``[(path, detail)]`` -> the sentence the page shows (boot.js: ``damagedMessage``)."""
    named = ", ".join(f"{path} ({detail})" for path, detail in files)
    return f"{named} {'is' if len(files) == 1 else 'are'} missing or damaged"


async def fetch_site_file(path: str):
    """Fetch ``path`` (relative to the page); return (ArrayBuffer, bytes)."""
    response = await fetch_any(path)
    if not response.ok:
        raise DamagedFile(path, f"HTTP {response.status}")
    try:
        buffer = await settle(response, "arrayBuffer")
    except JsError as exc:
        raise FetchError(f"{path}: the download broke off ({exc})") from None
    return buffer, js.Uint8Array.new(buffer).to_bytes()


async def fetch_site_json(path: str):
    """A site JSON file (the model list, a manifest), parsed."""
    _, data = await fetch_site_file(path)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as exc:
        raise FetchError(f"{path}: not valid JSON ({exc})") from None
