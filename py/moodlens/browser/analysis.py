"""What the modes (camera, photos, video) and the live session use of the app, and all they
see of it: the page's view and status line, the model registry, the emotion model in use with
the live pipeline on it, and the settings that go into an export.

    analysis = Analysis(view, registry, cfg, detector, "BlazeFace", Pipeline)
    analysis.on_switch(photos.use_emotion)       # called with each emotion model put in use
    analysis.use_emotion(model)                  # the live pipeline follows; the faces keep their ids
    model, pipeline = analysis.video_pipeline()  # for a video file: a pipeline of its own
    analysis.say_running()                       # "Running: BlazeFace + fer-mini-xception on TF.js wasm."

``recovering`` is set while the models are rebuilt on another backend (``recovery.py``): no
frame is analysed meanwhile.
"""

from __future__ import annotations

from .. import config
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
        return self.emotion, pipeline

    @staticmethod
    def describe_model(model) -> dict:
        m = model.manifest
        return {"id": m.id, "name": m.name, "files": {f.name: f.sha256 for f in m.files}}

    def settings(self) -> dict:
        cfg = self.cfg
        return {"smoothing": cfg.smoothing, "detect_every": cfg.detect_every, "max_faces": cfg.max_faces,
                "detector": self.detector_name, "backend": self.registry.backend}

    # -- the status line in the steady states ---------------------------------------------
    def say_ready(self) -> None:
        self.view.set_state("ready", f"Ready. Press Start camera. (TF.js {self.registry.backend}, "
                                     f"{self.detector_name})")

    def say_running(self) -> None:
        self.view.set_state("running", f"Running: {self.detector_name} + {self.pipeline.manifest.id} on TF.js "
                                       f"{self.registry.backend}.")

    def say_idle(self, state: str) -> None:
        """After a side task (a model switch, pictures): the running message, or the state it found."""
        if self.camera_running():
            self.say_running()
        elif state != "error":
            self.say_ready()
