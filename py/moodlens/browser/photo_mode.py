"""Photo mode on the page: pictures chosen or dropped, run through the photo pipeline one by
one (``moodlens.runner`` over ``sources.photos.PhotoFiles``), each shown as it is done.

    photos = PhotoMode(analysis, document, ["blazeface-short", "blazeface-full"])
    await photos.analyse(input.files)           # a bad file gets its message; the rest go on
    entry = await photos.analyse_url(url, name) # for `build.py evaluate`: one picture by URL

The photo pipeline (both BlazeFace detectors, no smoothing) is set up with its detectors on the
first picture (``detector_ids``, shared models of the registry) and follows model switches
(``use_emotion``).
"""

from __future__ import annotations

import json

from ..runner import Runner
from ._js import FetchError, JsError, fetch_response, settle
from .photo_view import PhotoView
from .sources.photos import PhotoFiles, Photos


class PhotoMode:
    def __init__(self, analysis, document, detector_ids: list[str]):
        self.analysis, self.doc, self.detector_ids = analysis, document, detector_ids
        self.input = document.getElementById("photos")
        self.photos: Photos | None = None
        self.view: PhotoView | None = None
        self.busy = False

    async def pipeline(self) -> Photos:
        if self.photos is None:
            analysis = self.analysis
            detectors = [await analysis.registry.shared(model_id) for model_id in self.detector_ids]
            self.photos = Photos(detectors, analysis.emotion)
        await self.analysis.ensure_people()
        self.photos.describer = self.analysis.describer
        return self.photos

    def use_emotion(self, model) -> None:
        if self.photos is not None:
            self.photos.use_emotion(model)

    async def analyse(self, files) -> str:
        """Every picture in turn; returns the status line for the end."""
        status = self.analysis.view
        self.view = view = self.view or PhotoView(self.doc)
        view.clear()  # the last batch's pictures and download links
        self.busy = True
        self.input.disabled = True
        state = status.state
        entries = []
        total = files.length
        try:
            photos = await self.pipeline()

            async def analyse(frame):
                status.set_state(state, f"Analysing picture {frame.index + 1} of {total}…")
                return await photos.analyse_frame(frame)

            class Shown:
                @staticmethod
                def result(frame, outcome):
                    entry, pixels, faces = outcome if outcome is not None else (
                        {"file": frame.name, "error": frame.error, "faces": []}, None, [])
                    view.add(entry, pixels, faces, photos.pipeline.manifest.labels)
                    entries.append(entry)

            report = await Runner(PhotoFiles(files), analyse, [Shown], max_errors=1).run()
            if report.error:
                raise RuntimeError(report.error)
            status.results.textContent = json.dumps({"source": "photos", "photos": entries})
        finally:
            self.busy = False
            self.input.value = ""
        return f"Analysed {len(entries)} picture{'s' if len(entries) != 1 else ''}."

    async def add_person(self, name: str, urls: list) -> str:
        """For `build.py analyse --people DIR`: a named person from reference pictures (one face
        each), by URL. Returns JSON: {"id", "name", "pictures"} or {"error"} naming each bad picture."""
        from .sources.photos import read

        photos = await self.pipeline()
        describer, people = self.analysis.describer, self.analysis.people
        if describer is None:
            return json.dumps({"error": f"people are not available: {self.analysis.people_error or 'turned off'}"})
        descriptors, problems = [], []
        for url in urls:
            file = str(url).rsplit("/", 1)[-1]
            try:
                blob = await settle(await fetch_response(url), "blob")
            except (FetchError, JsError) as exc:
                problems.append(f"{file}: {exc}")
                continue
            frame = await read(blob, file, 0)
            if frame.error is not None:
                problems.append(frame.error)
                continue
            found = await photos.faces(frame)
            if len(found) != 1:
                problems.append(f"{file}: {'no face found' if not found else f'{len(found)} faces'}; a reference "
                                "picture must show the person's face alone")
                continue
            descriptors.append((await describer.describe(frame.pixels, found))[0])
        if problems:
            return json.dumps({"error": "; ".join(problems)})
        person = people.add_reference(name, descriptors)
        return json.dumps({"id": person.id, "name": person.name, "pictures": len(descriptors)})

    async def analyse_url(self, url: str, name: str, cropped: bool = False) -> str:
        photos = await self.pipeline()
        try:
            response = await fetch_response(url)
            blob = await settle(response, "blob")
        except (FetchError, JsError) as exc:
            return json.dumps({"file": name, "error": str(exc), "faces": []})
        entry, _, _ = await photos.analyse(blob, name, bool(cropped))
        return json.dumps(entry)
