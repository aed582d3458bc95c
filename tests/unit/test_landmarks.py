"""Landmark points come back in frame pixels, from a crop turned so the eyes are level."""

import dataclasses
import math

import numpy as np
import pytest

from moodlens import preprocess
from moodlens.detect import Detection
from moodlens.landmarks import Landmarks, eye_angle
from moodlens.manifest import Input

from .helpers import run_async

CORNERS = np.array([[0, 0, 5], [192, 192, 5], [96, 96, 5], [192, 96, 5]], np.float32)


@pytest.fixture
def mesh_manifest(emotion_manifest):
    spec = Input(width=192, height=192, color="rgb", scale=255.0, mean=(0, 0, 0), std=(1, 1, 1))
    return dataclasses.replace(emotion_manifest, kind="landmarks", input=spec, crop_margin=0.5, points=4, labels=())


def corners_model(seen):
    async def run(batch):
        seen["batch"] = batch
        return np.tile(CORNERS.ravel(), (len(batch), 1))  # input-pixel corners, centre and right edge
    return run


def test_a_level_face_maps_crop_corners_to_its_square(mesh_manifest):
    seen = {}
    face = Detection((100, 100, 80, 80), 0.9, ((120, 130), (160, 130)))  # eyes level
    [pts] = run_async(Landmarks(mesh_manifest, corners_model(seen)).find(np.zeros((480, 640, 4), np.uint8), [face]))
    assert seen["batch"].shape == (1, 192, 192, 3)
    # side 80 * 1.5 = 120 around the centre (140, 140)
    assert np.allclose(pts, [[80, 80], [200, 200], [140, 140], [200, 140]], atol=1e-3)


def test_a_tilted_face_is_cropped_level_and_its_points_turned_back(mesh_manifest):
    seen = {}
    # Eyes on a vertical line: the face lies on its side, turned +90 degrees.
    face = Detection((100, 100, 80, 80), 0.9, ((140, 120), (140, 160)))
    assert eye_angle(face) == pytest.approx(math.pi / 2)
    [pts] = run_async(Landmarks(mesh_manifest, corners_model(seen)).find(np.zeros((480, 640, 4), np.uint8), [face]))
    # The crop's right edge (along the eye line) now points down the frame.
    assert np.allclose(pts[2], [140, 140], atol=1e-3) and np.allclose(pts[3], [140, 200], atol=1e-3)


def test_the_rotated_crop_samples_the_frame_turned():
    frame = np.zeros((100, 100, 4), np.uint8)
    frame[40:60, 60:70, :3] = 255  # a bright patch right of the centre
    level = preprocess.rotated_crop(frame, (50, 50), 40, 0.0, 40, 40)
    turned = preprocess.rotated_crop(frame, (50, 50), 40, math.pi / 2, 40, 40)
    assert level[20, 35].min() == 255 and level[35, 20].max() == 0  # right of centre, not below
    # Sampling along an eye line that points down the frame: what lies right of the centre in
    # the frame comes out above the centre of the crop.
    assert turned[5, 20].min() == 255 and turned[20, 35].max() == 0 and turned[35, 20].max() == 0
    assert np.allclose(preprocess.rotated_crop(frame, (50, 50), 100, 0.0, 100, 100), frame[..., :3], atol=0.01)


def test_no_face_means_no_landmark_run(mesh_manifest):
    async def run(batch):
        raise AssertionError("must not run")

    assert run_async(Landmarks(mesh_manifest, run).find(np.zeros((10, 10, 4), np.uint8), [])) == []
