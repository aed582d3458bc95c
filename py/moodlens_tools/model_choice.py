"""``--model`` for ``analyse`` and ``evaluate``: a shipped model's id, or a model folder.

A folder is what ``build.py convert`` (Keras, ONNX) writes, or any folder with a
``manifest.json`` and the files it names (a ``.tflite``, say). The page gets it the way a person
gives it one: its files are chosen in "Use your own model…" (``#own-model``), read in the page
and checked against the manifest's hashes there; nothing is added to the site.

    model_id, folder = split(args.model)            # ("fer-mini-xception", None) or (None, Path)
    files = folder_files(folder)                    # ModelChoiceError says what is wrong
    use_folder(page, folder)                        # the page runs it; ModelChoiceError with the page's reason
"""

from __future__ import annotations

import json
from pathlib import Path

from moodlens import manifest as manifests


class ModelChoiceError(Exception):
    """A --model that cannot be used; the message says why."""


def split(value: str | None) -> tuple[str | None, Path | None]:
    """A model id for the address (``?model=``), or a folder to hand to the page."""
    if value is None:
        return None, None
    path = Path(value)
    if path.is_dir() or "/" in value or value.startswith("."):
        return None, path
    return value, None


def folder_manifest(folder: Path) -> manifests.Manifest:
    if not folder.is_dir():
        raise ModelChoiceError(f"--model {folder}: no such folder (a model id, or a folder with a manifest.json)")
    try:
        manifest = manifests.load(folder / "manifest.json")
    except FileNotFoundError:
        raise ModelChoiceError(f"--model {folder}: no manifest.json in it; make the folder with "
                               "`python3 build.py convert`") from None
    except manifests.ManifestError as exc:
        raise ModelChoiceError(f"--model {folder}: {exc}") from None
    if manifest.kind != "emotion":
        raise ModelChoiceError(f"--model {folder}: its manifest describes a {manifest.kind} model, not an emotion model")
    return manifest


def folder_files(folder: Path) -> list[Path]:
    """manifest.json and the model's files (those the manifest lists, its entry, and a TF.js
    model's weight files), each checked to exist."""
    manifest = folder_manifest(folder)
    names = {"manifest.json", manifest.entry, *(f.name for f in manifest.files)}
    if manifest.format in ("tfjs-graph", "tfjs-layers") and (folder / manifest.entry).is_file():
        try:
            spec = json.loads((folder / manifest.entry).read_text(encoding="utf-8"))
            names |= {p for group in spec.get("weightsManifest", []) for p in group.get("paths", [])}
        except (ValueError, UnicodeDecodeError):
            pass  # the page names a broken model.json
    missing = sorted(n for n in names if not (folder / n).is_file())
    if missing:
        raise ModelChoiceError(f"--model {folder}: {', '.join(missing)} missing")
    return [folder / n for n in sorted(names)]


def use_folder(page, folder: Path, timeout: float = 180.0) -> manifests.Manifest:
    """Hand the folder's model to the page (as "Use your own model…" does) and wait until it
    runs it; ModelChoiceError with the page's own words if it refuses."""
    manifest = folder_manifest(folder)
    files = folder_files(folder)
    page.wait("!document.getElementById('own-model').disabled", timeout)
    notes_before = page.run("return document.getElementById('notes').children.length")
    page.set_files("#own-model", [p.resolve() for p in files])
    refused = ("document.getElementById('notes').children.length > arguments[1] && "
               "document.getElementById('notes').lastElementChild.textContent.includes('Could not use')")
    try:
        page.wait("(() => { const m = document.getElementById('model'); return !m.disabled && m.value === arguments[0]; })()",
                  timeout, manifest.id, notes_before, fail=refused)
    except AssertionError:  # a refusal or a timeout (engines' waits): say what the page says
        note = page.run("const n = document.getElementById('notes').lastElementChild; return n ? n.textContent : ''")
        raise ModelChoiceError(f"--model {folder}: {note or 'the page did not take the model in time'}") from None
    return manifest
