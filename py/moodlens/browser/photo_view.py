"""Photo mode on the page: one figure per picture, with its annotated copy, a table of
per-face scores and a PNG download; or the reason the file could not be analysed.

Text from file names goes in through ``textContent`` only: a file called
``<img onerror=…>.jpg`` stays text.
"""

from __future__ import annotations

import numpy as np

from ._compat import create_once_callable, js
from .view import paint_faces


class PhotoView:
    def __init__(self, document):
        self.doc = document
        self.list = document.getElementById("photo-list")

    def clear(self) -> None:
        self.list.replaceChildren()

    def _el(self, tag: str, text: str = "", cls: str = ""):
        el = self.doc.createElement(tag)
        if text:
            el.textContent = text
        if cls:
            el.className = cls
        return el

    def add(self, entry: dict, pixels: np.ndarray | None, faces: list, labels) -> None:
        figure = self._el("figure", cls="photo")
        self.list.append(figure)
        caption = self._el("figcaption")
        if pixels is None:
            caption.append(self._el("span", entry["error"], "error"))
            figure.append(caption)
            return
        h, w = pixels.shape[:2]
        canvas = self._el("canvas")
        canvas.width, canvas.height = w, h
        ctx = canvas.getContext("2d")
        image = js.ImageData.new(js.Uint8ClampedArray.new(pixels.size), w, h)
        image.data.assign(pixels.ravel())
        ctx.putImageData(image, 0, 0)
        paint_faces(ctx, faces, w, mirror=False)
        figure.append(canvas)
        count = len(entry["faces"])
        summary = f"{entry['file']}: {count} face{'s' if count != 1 else ''}"
        caption.append(self._el("strong", summary))
        for note in entry["notes"]:
            caption.append(self._el("div", note))
        link = self._el("a", "Download annotated PNG")
        link.download = entry["file"].rsplit(".", 1)[0] + "-moodlens.png"
        link.hidden = True

        def ready(blob):
            link.show_blob("href", blob)  # the page makes its blob: URL
            link.hidden = False

        canvas.toBlob(create_once_callable(ready), "image/png")
        caption.append(link)
        figure.append(caption)
        if count:
            figure.append(self._table(entry, labels))

    def _table(self, entry: dict, labels):
        table = self._el("table")
        head = self._el("tr")
        for text in ["face", "emotion", *[label.name for label in labels]]:
            head.append(self._el("th", text))
        table.append(head)
        by_name = {label.name: label for label in labels}
        for i, face in enumerate(entry["faces"], 1):
            row = self._el("tr")
            emoji = by_name[face["emotion"]].emoji if face["emotion"] in by_name else ""
            row.append(self._el("td", str(i)))
            row.append(self._el("td", f"{emoji} {face['emotion']}"))
            for label in labels:
                row.append(self._el("td", f"{face['scores'].get(label.name, 0.0) * 100:.1f}%"))
            table.append(row)
        return table
