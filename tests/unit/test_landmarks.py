"""Landmark points come back in frame pixels, on the square crop the model saw."""

import dataclasses

import numpy as np

from moodlens import preprocess
from moodlens.landmarks import Landmarks
from moodlens.manifest import Input

from .helpers import run_async


def test_points_are_mapped_from_the_crop_back_to_the_frame(emotion_manifest):
    spec = Input(width=192, height=192, color="rgb", scale=255.0, mean=(0, 0, 0), std=(1, 1, 1))
    m = dataclasses.replace(emotion_manifest, kind="landmarks", input=spec, crop_margin=0.5, points=3, labels=())
    seen = {}

    async def run(batch):
        seen["shape"] = batch.shape
        # Input-pixel corners and centre, with a z each, for every face.
        return np.tile(np.array([[0, 0, 5], [192, 192, 5], [96, 96, 5]], np.float32).ravel(), (len(batch), 1))

    frame = np.zeros((480, 640, 4), np.uint8)
    boxes = [(100, 100, 80, 80), (400, 200, 60, 100)]
    points = run_async(Landmarks(m, run).find(frame, boxes))
    assert seen["shape"] == (2, 192, 192, 3) and len(points) == 2
    for box, pts in zip(boxes, points):
        x, y, side, _ = preprocess.square_box(box, 0.5, 640, 480)
        assert np.allclose(pts, [[x, y], [x + side, y + side], [x + side / 2, y + side / 2]])
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        assert abs(pts[2][0] - cx) <= 1 and abs(pts[2][1] - cy) <= 1  # the crop is centred on the face


def test_no_face_means_no_landmark_run(emotion_manifest):
    m = dataclasses.replace(emotion_manifest, kind="landmarks", points=468, labels=())

    async def run(batch):
        raise AssertionError("must not run")

    assert run_async(Landmarks(m, run).find(np.zeros((10, 10, 4), np.uint8), [])) == []
