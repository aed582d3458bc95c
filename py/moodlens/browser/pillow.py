"""Pillow in the worker, loaded the first time a picture needs it (never at start-up).

Photo mode decodes with the browser first (``createImageBitmap``). A file the browser cannot
read (TIFF everywhere; BMP or ICO where an engine lacks them) goes to Pillow: Pyodide's own
Pillow wheel, built with libtiff, libjpeg, libpng and libwebp. ``build.py`` takes it from the
same hash-checked source as NumPy's, compiles it to bytecode and writes its sha256 into
``pyodide/pyodide-lock.json``; here it is fetched, checked against that hash, unzipped into
site-packages and imported. Its extension modules link when imported (synchronously: this is a
worker, where a WebAssembly module of any size may compile synchronously).

    pixels, notes = await decode(data, "scan.tif", max_side=4096)   # (H, W, 4) uint8 RGBA
"""

from __future__ import annotations

import hashlib
import importlib
import io
import sys
import zipfile

from ..preprocess import shrunk_size
from .site_files import DamagedFile, fetch_site_file, fetch_site_json

_loaded = False


class PillowError(Exception):
    """Pillow could not be loaded, or could not read the file; the message says which."""


async def ensure() -> None:
    global _loaded
    if _loaded:
        return
    lock = await fetch_site_json("pyodide/pyodide-lock.json")
    entry = lock["packages"]["pillow"]
    path = f"pyodide/{entry['file_name']}"
    _, data = await fetch_site_file(path)
    got = hashlib.sha256(data).hexdigest()
    if got != entry["sha256"]:
        raise PillowError(str(DamagedFile(path, f"sha256 {got}, pyodide-lock.json lists {entry['sha256']}")))
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        wheel.extractall(site_packages)
    importlib.invalidate_caches()
    _loaded = True


async def decode(data: bytes, name: str, max_side: int):
    """``data`` -> (RGBA ndarray, (width, height) of the original, scale, notes); EXIF
    orientation applied, shrunk to ``max_side`` on its long side when larger."""
    import numpy as np

    await ensure()
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # as a camera held sideways meant it
            width, height = image.size
            notes = [f"{name} was decoded by Pillow ({image.format}): this browser cannot read it."]
            scale, size = shrunk_size(width, height, max_side)
            if scale < 1:
                image = image.resize(size, Image.Resampling.LANCZOS)
                notes.append(f"{name} is {width}×{height} pixels; analysed at {size[0]}×{size[1]} "
                             "(boxes are in the original's pixels).")
            pixels = np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PillowError(str(exc)) from None
    return pixels, (width, height), scale, notes
