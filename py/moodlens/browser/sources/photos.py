"""Photo mode: pictures a person chooses or drops, decoded and analysed on the device.

    photos = Photos(detector_models, emotion_model)
    source = PhotoFiles(input.files)                   # a FrameSource: one frame per picture
    entry, pixels, faces = await photos.analyse_frame(frame)   # the #results entry for it
    entry, pixels, faces = await photos.analyse(blob, "party.jpg")   # one picture, by itself

Each picture is decoded by the browser (``createImageBitmap``: JPEG, PNG, WebP; what it cannot
read, such as TIFF, by Pillow, loaded on first use: moodlens.browser.pillow), shrunk to
at most ``MAX_SIDE`` pixels on its long side when larger (with a note), copied into NumPy and
run through the same pipeline as the camera, with the full-range detector (small faces in
group pictures) alongside the short-range one (faces that fill it), and no smoothing. Boxes are reported in the original picture's pixels. A
file that is not a picture, or is damaged, gets a message; the rest of the batch goes on.
"""

from __future__ import annotations

import numpy as np

from ...detect import BlazeFace, Detectors
from ...frames import Frame, SourceInfo
from ...pipeline import Pipeline
from ...preprocess import shrunk_size
from .. import tfjs
from .._compat import js
from .._js import JsError, obj, settle

MAX_SIDE = 4096  # a 24 MP photo is 6000 px wide: 4096 keeps faces of 30 px findable and memory sane
MAX_FACES = 50


class PhotoError(Exception):
    """A file that cannot be analysed; the message is for the person who chose it."""


async def decode(blob, name: str):
    """-> (RGBA ndarray at the analysed size, (width, height) of the original, scale, notes)."""
    try:
        bitmap = await settle(js, "createImageBitmap", blob)
    except JsError:
        return await _decode_with_pillow(blob, name)
    width, height = int(bitmap.width), int(bitmap.height)
    scale, size = shrunk_size(width, height, MAX_SIDE)
    notes = []
    if scale < 1:
        bitmap.close()
        try:
            bitmap = await settle(js, "createImageBitmap", blob, obj(resizeWidth=size[0], resizeHeight=size[1],
                                                                     resizeQuality="high"))
        except JsError as exc:
            raise PhotoError(f"{name}: could not be shrunk to {size[0]}×{size[1]} for analysis ({exc})") from None
        notes.append(f"{name} is {width}×{height} pixels; analysed at {size[0]}×{size[1]} "
                     "(boxes are in the original's pixels).")
    w, h = int(bitmap.width), int(bitmap.height)
    canvas = js.OffscreenCanvas.new(w, h)
    ctx = canvas.getContext("2d", obj(willReadFrequently=True))
    ctx.drawImage(bitmap, 0, 0)
    bitmap.close()
    pixels = np.empty((h, w, 4), dtype=np.uint8)
    ctx.getImageData(0, 0, w, h).data.assign_to(pixels)
    return pixels, (width, height), scale, notes


async def _decode_with_pillow(blob, name: str):
    """What the browser cannot decode, Pillow may (TIFF, and BMP or ICO where an engine lacks
    them); loaded on first use. A file neither reads gets the message it always got."""
    from .. import pillow
    from ..site_files import DamagedFile, FetchError

    unreadable = (f"{name}: not a picture this browser or Pillow can read (JPEG, PNG, WebP, TIFF, BMP, GIF...), "
                  "or the file is damaged")
    try:
        buffer = await settle(blob, "arrayBuffer")
    except JsError:
        raise PhotoError(unreadable) from None
    try:
        return await pillow.decode(js.Uint8Array.new(buffer).to_bytes(), name, MAX_SIDE)
    except pillow.PillowError as exc:
        if "missing or damaged" in str(exc):
            raise PhotoError(f"{name}: Pillow, which reads this kind of picture, could not be loaded ({exc})") from None
        raise PhotoError(unreadable) from None
    except (DamagedFile, FetchError) as exc:
        raise PhotoError(f"{name}: Pillow, which reads this kind of picture, could not be loaded ({exc})") from None


# Face sizes (share of the picture's shorter side) each photo detector is trusted with.
SHORT_RANGE, FULL_RANGE = (0.3, float("inf")), (0.0, 0.3)


class Photos:
    """``detectors``: the short-range model (faces that fill the picture) and the full-range one
    (small faces of group pictures); their faces are merged."""

    def __init__(self, detectors: list[tfjs.Model], emotion: tfjs.Model):
        ranges = [SHORT_RANGE, FULL_RANGE] if len(detectors) == 2 else [(0.0, float("inf"))] * len(detectors)
        self.detector = Detectors((BlazeFace(m.manifest, m.predict), lo, hi)
                                  for m, (lo, hi) in zip(detectors, ranges))
        self.describer = None  # moodlens.describe.Describer: faces linked into the session's people
        self.pictures = 0  # pictures analysed: each is a namespace of its own for the people
        self.use_emotion(emotion)

    def use_emotion(self, emotion: tfjs.Model) -> None:
        self.emotion = emotion
        self.pipeline = Pipeline(self.detector, emotion.predict, emotion.manifest, MAX_FACES, smoothing=0.0)

    async def faces(self, frame: Frame) -> list:
        """The faces the photo detectors find in a picture (no classification)."""
        return list(await self.detector.detect(frame.pixels, MAX_FACES))

    async def analyse(self, blob, name: str, cropped: bool = False) -> tuple[dict, np.ndarray | None, list]:
        """-> (the #results entry, the analysed RGBA pixels or None, the FaceViews to draw).

        ``cropped``: the picture is one face already (a FER-2013 48×48 crop): no detection."""
        return await self.analyse_frame(await read(blob, name, 0), cropped)

    async def analyse_frame(self, frame: Frame, cropped: bool = False) -> tuple[dict, np.ndarray | None, list]:
        """A picture from ``PhotoFiles`` (or ``read``): its entry, pixels and faces."""
        name = frame.name
        if frame.error is not None:
            return {"file": name, "error": frame.error, "faces": []}, None, []
        pixels, (width, height), scale, notes = frame.pixels, frame.original, frame.scale, list(frame.notes)
        pipeline = self.pipeline
        pipeline.reset()
        self.pictures += 1
        pipeline.namespace = f"photo {self.pictures}"
        pipeline.describer = None if cropped else self.describer  # a face crop to score (evaluate): no person
        with self.emotion.lease():  # a model switch meanwhile frees this model only afterwards
            if cropped:
                h, w = pixels.shape[:2]
                result = await pipeline.classify_boxes(pixels, [(0.0, 0.0, float(w), float(h))])
            else:
                result = await pipeline.step(pixels, 0.0)
        faces = sorted(result.faces, key=lambda f: f.box[0])
        entry = {
            "file": name, "width": width, "height": height, "model": pipeline.manifest.id,
            "faces": [{"box": [round(v / scale, 1) for v in f.box], "person_id": f.person_id, "person": f.person,
                       "emotion": f.emotion,
                       "scores": {bar.label: round(bar.value, 5) for bar in f.bars}}
                      | {name: round(v, 5) for name, v in f.regressions} for f in faces],
            "notes": notes,
        }
        if not faces:
            entry["notes"] = notes + [f"{name}: no face found."]
        return entry, pixels, faces


async def read(blob, name: str, index: int) -> Frame:
    """A picture as a Frame; one that cannot be read is a Frame with ``error``."""
    try:
        pixels, size, scale, notes = await decode(blob, name)
    except PhotoError as exc:
        return Frame(None, 0.0, index, name=name, error=str(exc))
    return Frame(pixels, 0.0, index, scale=scale, name=name, notes=tuple(notes), original=size)


class PhotoFiles:
    """Pictures a person chose, as a frame source: one frame per file, read in turn."""

    def __init__(self, files):
        self.files = list(files)

    async def open(self) -> SourceInfo:
        return SourceInfo("pictures", 0, 0, len(self.files))

    async def frames(self):
        for i, file in enumerate(self.files):
            yield await read(file, str(file.name), i)

    async def close(self) -> None:
        self.files = []
