"""Which views get a face descriptor, and what the descriptor model is handed (a fake model:
the crop logic is what is tested; the real model runs in the end-to-end tests)."""

import dataclasses

import numpy as np
import pytest

from moodlens.describe import MIN_SHARPNESS, Describer, sharpness, view_problem
from moodlens.detect import Detection
from moodlens.manifest import Input
from moodlens.people import People
from moodlens.track import Track

from .helpers import run_async

EYES_NOSE = ((120.0, 130.0), (160.0, 130.0), (140.0, 150.0))  # level eyes, the nose between them


@pytest.fixture
def descriptor_manifest(emotion_manifest):
    spec = Input(width=32, height=32, color="rgb", scale=1.0, mean=(0, 0, 0), std=(1, 1, 1))
    return dataclasses.replace(emotion_manifest, kind="descriptor", input=spec, crop_margin=0.4, size=8, labels=())


def textured(h=480, w=640, seed=0):
    rng = np.random.default_rng(seed)
    frame = np.full((h, w, 4), 255, np.uint8)
    frame[..., :3] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return frame


def test_small_and_turned_faces_are_not_worth_a_descriptor():
    assert view_problem(Detection((100, 100, 80, 80), 0.9, EYES_NOSE)) is None
    assert view_problem(Detection((100, 100, 30, 30), 0.9, EYES_NOSE)) == "small"
    turned = (EYES_NOSE[0], EYES_NOSE[1], (168.0, 150.0))  # the nose past the left eye: a profile
    assert view_problem(Detection((100, 100, 80, 80), 0.9, turned)) == "turned"
    assert view_problem(Detection((100, 100, 80, 80), 0.9, ())) is None  # no keypoints: size alone


def test_sharpness_tells_detail_from_blur():
    detail = textured()[:100, :100, :3].astype(np.float32)
    flat = np.full((100, 100, 3), 128.0, np.float32)
    assert sharpness(detail) > 10 * MIN_SHARPNESS and sharpness(flat) == 0.0


def test_only_tracks_that_want_a_view_and_show_a_good_one_are_described(descriptor_manifest):
    seen = []

    async def run(batch):
        seen.append(batch.shape)
        return np.tile(np.arange(8, dtype=np.float32), (len(batch), 1)) + np.arange(len(batch))[:, None]

    people = People()
    describer = Describer(descriptor_manifest, run, people)
    faces = [Detection((100, 100, 80, 80), 0.9, EYES_NOSE), Detection((400, 100, 20, 20), 0.9, ())]
    tracks = [Track(1, faces[0].box, np.zeros(2), 0.0), Track(2, faces[1].box, np.zeros(2), 0.0)]
    persons = run_async(describer.update(textured(), "camera", faces, tracks, 0.0))
    assert seen == [(1, 32, 32, 3)], "one batch, the large face only"
    assert persons[0] is not None and persons[0].id == 1 and persons[1] is None
    assert describer.skipped == {"small": 1}
    run_async(describer.update(textured(), "camera", faces, tracks, 100.0))
    assert len(seen) == 1, "the next view is due 0.4 s later"
    blank = np.full((480, 640, 4), 128, np.uint8)
    run_async(describer.update(blank, "camera", faces, tracks, 500.0))
    assert len(seen) == 1 and describer.skipped["blurred"] == 1
    run_async(describer.update(textured(), "camera", faces, tracks, 600.0))
    assert len(seen) == 1 and describer.skipped["blurred"] == 1, "a poor view: no new try for a while"
    run_async(describer.update(textured(), "camera", faces, tracks, 800.0))
    assert len(seen) == 2


def test_boxes_followed_from_an_earlier_frame_give_no_view(descriptor_manifest):
    """Between detections the boxes are the last ones found; the face may have left them, so a
    view there could describe the room behind it."""
    seen = []

    async def run(batch):
        seen.append(len(batch))
        return np.ones((len(batch), 8), np.float32)

    people = People()
    describer = Describer(descriptor_manifest, run, people)
    face = Detection((100, 100, 80, 80), 0.9, EYES_NOSE)
    track = Track(1, face.box, np.zeros(2), 0.0)
    assert run_async(describer.update(textured(), "camera", [face], [track], 0.0, fresh=False)) == [None]
    assert seen == [] and len(people) == 0
    first = run_async(describer.update(textured(), "camera", [face], [track], 100.0))[0]
    assert seen == [1] and first is not None
    # A view is due again (0.4 s later), but the boxes are followed ones: the person stays as it was.
    assert run_async(describer.update(textured(seed=1), "camera", [face], [track], 600.0, fresh=False)) == [first]
    assert seen == [1] and len(first.views) == 1


def test_a_reference_picture_is_described_whatever_its_view(descriptor_manifest):
    async def run(batch):
        return np.ones((len(batch), 8), np.float32)

    describer = Describer(descriptor_manifest, run, People())
    out = run_async(describer.describe(textured(), [Detection((100, 100, 30, 30), 0.9, ())]))
    assert out.shape == (1, 8)
