"""A person's own emotion model, from files they pick on their disk; nothing is uploaded.

The files are a model folder's contents: ``manifest.json`` with ``model.json`` and its weight
files (a TF.js graph or layers model, as ``build.py convert`` writes), or ``manifest.json``
with a ``.tflite`` or ``.onnx`` file. They are read in the page with ``File.arrayBuffer()``; where the
manifest lists sha256 hashes (``files``), each file is checked against them.

    manifest, read = await from_files(input_element.files)
    model = await tfjs.Model.load("your model", manifest, read)
"""

from __future__ import annotations

import hashlib
import json

from ..manifest import ManifestError, parse
from ._compat import js
from ._js import JsError, settle
from .tfjs import ModelLoadError

MANIFEST = "manifest.json"


async def from_files(file_list):
    """FileList -> (Manifest, read(name) -> (ArrayBuffer, bytes)); ModelLoadError says what is wrong."""
    files = {str(f.name): f for f in file_list}
    if MANIFEST not in files:
        names = ", ".join(sorted(files)) or "no files"
        raise ModelLoadError(f"choose the model's {MANIFEST} together with its model files (got {names})")
    try:
        text = await settle(files[MANIFEST], "text")
    except JsError as exc:
        raise ModelLoadError(f"your {MANIFEST} could not be read ({exc})") from None
    try:
        manifest = parse(json.loads(str(text)), f"your {MANIFEST}")
    except ValueError as exc:  # ManifestError is a ValueError; so is a JSON syntax error
        message = str(exc) if isinstance(exc, ManifestError) else f"your {MANIFEST} is not valid JSON ({exc})"
        raise ModelLoadError(message) from None
    if manifest.kind != "emotion":
        raise ModelLoadError(f"your {MANIFEST} describes a {manifest.kind} model; choose an emotion model")
    expected = {f.name: f.sha256 for f in manifest.files}

    async def read(name: str):
        if name not in files:
            raise ModelLoadError(f"{name} is missing: choose it together with {MANIFEST}")
        try:
            buffer = await settle(files[name], "arrayBuffer")
        except JsError as exc:
            raise ModelLoadError(f"{name} could not be read ({exc})") from None
        data = js.Uint8Array.new(buffer).to_bytes()
        if name in expected and hashlib.sha256(data).hexdigest() != expected[name]:
            raise ModelLoadError(f"{name} does not match the sha256 in {MANIFEST}: a different or damaged file")
        return buffer, data

    return manifest, read
