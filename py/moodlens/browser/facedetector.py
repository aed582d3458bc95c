"""The browser's own face detector (Shape Detection API), where the browser has one.

Chrome on macOS, Windows and Android ships ``FaceDetector`` behind a flag or by default;
Linux, Firefox and Safari do not. Same interface as ``moodlens.detect.BlazeFace``:

    if hasattr(js, "FaceDetector"):            # app.py decides
        detector = NativeDetector(lambda: reader.canvas, max_faces=5)
        faces = await detector.detect(frame, max_faces)   # reads the canvas the frame was drawn on
"""

from __future__ import annotations

from ..detect import Detection
from ._compat import js
from ._js import obj, settle


class NativeDetector:
    def __init__(self, canvas, max_faces: int):
        options = obj(maxDetectedFaces=max_faces, fastMode=True)
        self.canvas = canvas  # () -> the OffscreenCanvas the camera's frame reader drew on
        self.detector = js.FaceDetector.new(options)

    async def detect(self, frame, max_faces: int) -> list[Detection]:
        # The frame was drawn on that canvas by FrameReader (direct=False); the browser reads it there.
        faces = await settle(self.detector, "detect", self.canvas())
        found = []
        for face in faces.to_py(depth=1)[:max_faces]:
            r = face.boundingBox
            found.append(Detection((float(r.x), float(r.y), float(r.width), float(r.height)), 1.0))
        return found
