"""What the modes (camera, photos, video) and the live session use of the app, and all they
see of it: the page's view and status line, the model registry, the emotion model in use with
the live pipeline on it, and the settings that go into an export.

    analysis = Analysis(view, registry, cfg, detector, "BlazeFace", Pipeline)
    analysis.on_switch(photos.use_emotion)       # called with each emotion model put in use
    analysis.use_emotion(model)                  # the live pipeline follows; the faces keep their ids
    model, pipeline = analysis.video_pipeline()  # for a video file: a pipeline of its own
    analysis.say_running()                       # "Running: BlazeFace + fer-mini-xception on TF.js wasm."
    await analysis.ensure_people()               # the descriptor model, once: faces become people

People (``moodlens.people``) are one set for the page's session: the camera, every video and every
picture link their faces into the same people, so a person keeps their id across recordings.
Their descriptors stay in this worker's memory and go when the page does.

``recovering`` is set while the models are rebuilt on another backend (``recovery.py``): no
frame is analysed meanwhile.
"""

from __future__ import annotations

from .. import config
from ._js import spawn
from .registry import ModelRegistry
from .view import View


class Analysis:
    def __init__(self, view: View, registry: ModelRegistry, cfg: config.Config, detector, detector_name: str,
                 make_pipeline):
        self.view, self.registry, self.cfg = view, registry, cfg
        self.detector, self.detector_name = detector, detector_name  # kept across model switches
        self._make_pipeline = make_pipeline  # moodlens.pipeline.Pipeline (imported once NumPy is)
        self.emotion = None  # the emotion model in use
        self.pipeline = None  # the live pipeline on it
        self.recovering = False
        self.camera_running = lambda: False  # set once the camera mode is made
        self._listeners: list = []
        self.people = None  # moodlens.people.People, made with NumPy (make_people)
        self.describer = None  # set once the descriptor model is loaded: faces get people
        self.people_error: str | None = None  # why people are not available
        self._people_loading = None
        self.descriptor_ids: list[str] = []  # the site's descriptor models (models/index.json)
        self._videos = 0
        self._people_listeners: list = []

    def make_people(self) -> None:
        from ..people import People

        self.people = People(threshold=self.cfg.match)

    def people_pending(self) -> bool:
        """People are wanted and their model was never asked for."""
        return bool(self.cfg.people) and self._people_loading is None and self.describer is None

    async def ensure_people(self) -> None:
        """Load the descriptor model once (?people=0: never); every pipeline links faces from then
        on. A model that fails to load leaves emotions going without people, and the page says so."""
        if not self.cfg.people or self.describer is not None or self.people_error is not None:
            return
        if self._people_loading is None:
            self._people_loading = spawn(self._load_people())
        await self._people_loading

    async def _load_people(self) -> None:
        from ..describe import Describer

        try:
            if not self.descriptor_ids:
                raise RuntimeError("this site ships no face-descriptor model")
            model = await self.registry.shared(self.descriptor_ids[0])
        except Exception as exc:  # noqa: BLE001 - emotions go on without people
            self.people_error = str(exc)
            self.view.add_notes([f"People are not available (faces keep per-track ids only): {exc}"])
            return
        size = model.manifest.size
        self.describer = Describer(model.manifest, lambda batch: model.predict(batch, size), self.people)
        for pipeline in (self.pipeline,):
            if pipeline is not None:
                pipeline.describer = self.describer

    def on_people_change(self, listener) -> None:
        """``listener()`` after a person is named: timelines relink, charts and tables redraw."""
        self._people_listeners.append(listener)

    def name_person(self, person_id: int, name: str) -> None:
        if self.people is None or person_id not in self.people.people:
            self.view.add_notes([f"Person {person_id} is not known any more; nothing was renamed."])
            return
        self.people.name(person_id, name)
        for listener in self._people_listeners:
            listener()

    def persons(self, namespace: str) -> dict:
        """{track id: (person id, name)} for one source's tracks (a timeline's ``link``)."""
        if self.people is None:
            return {}
        return {track: (p.id, p.name) for track, p in self.people.tracks_of(namespace).items()}

    def on_switch(self, listener) -> None:
        self._listeners.append(listener)

    def use_emotion(self, emotion) -> None:
        """Put ``emotion`` in use: a live pipeline on it, with the old one's tracker and landmarks."""
        old, cfg = self.pipeline, self.cfg
        self.emotion = emotion
        self.pipeline = self._make_pipeline(self.detector, emotion.predict, emotion.manifest, cfg.max_faces,
                                            cfg.smoothing, cfg.detect_every,
                                            tracker=old.tracker if old is not None else None)
        self.pipeline.landmarks = old.landmarks if old is not None else None
        self.pipeline.describer = self.describer
        self.pipeline.keep_inputs = cfg.debug
        for listener in self._listeners:
            listener(emotion)

    def video_pipeline(self):
        """For a video file: the emotion model in use and a pipeline of its own on it (its own
        tracker, which keeps a face's id across gaps of up to 1.5 s)."""
        cfg = self.cfg
        pipeline = self._make_pipeline(self.detector, self.emotion.predict, self.emotion.manifest, cfg.max_faces,
                                       cfg.smoothing, cfg.detect_every, max_age_ms=1500.0)
        pipeline.landmarks = self.pipeline.landmarks
        pipeline.describer = self.describer
        self._videos += 1
        pipeline.namespace = f"video {self._videos}"
        return self.emotion, pipeline

    @staticmethod
    def describe_model(model) -> dict:
        m = model.manifest
        return {"id": m.id, "name": m.name, "files": {f.name: f.sha256 for f in m.files}}

    def settings(self) -> dict:
        cfg = self.cfg
        return {"smoothing": cfg.smoothing, "detect_every": cfg.detect_every, "max_faces": cfg.max_faces,
                "detector": self.detector_name, "backend": self.registry.backend,
                "people": self.describer is not None, "match": cfg.match}

    # -- the status line in the steady states ---------------------------------------------
    def say_ready(self) -> None:
        self.view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.registry.backend}, "
                                     f"{self.detector_name})")

    def say_running(self) -> None:
        manifest = self.pipeline.manifest
        where = (f"TF.js {self.registry.backend}" if manifest.format != "onnx"
                 else f"TF.js {self.registry.backend} and onnxruntime-web (wasm)")
        self.view.set_state("running", f"Running: {self.detector_name} + {manifest.id} on {where}.")

    def say_idle(self, state: str) -> None:
        """After a side task (a model switch, pictures): the running message, or the state it found."""
        if self.camera_running():
            self.say_running()
        elif state != "error":
            self.say_ready()
