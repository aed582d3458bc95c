"""BlazeFace decoding: anchors, boxes, weighted NMS, mapping back to the frame."""

import numpy as np
import pytest

from moodlens.detect import BlazeFace, anchors, decode, sigmoid, to_frame, weighted_nms
from moodlens.preprocess import Letterbox

from .helpers import run_async


def test_anchor_layout_matches_blazeface_short_range():
    a = anchors(128, (8, 16), (2, 6))
    assert a.shape == (896, 2)  # 16*16*2 + 8*8*6
    np.testing.assert_array_equal(a[:3], [[4, 4], [4, 4], [12, 4]])
    np.testing.assert_array_equal(a[32], [4, 12])  # second row of the stride-8 grid
    np.testing.assert_array_equal(a[512:519], [[8, 8]] * 6 + [[24, 8]])


def raw_with_face(anchor_index, logit=5.0, offset=(2.0, -2.0), size=(20.0, 30.0), keypoints=6):
    raw = np.zeros((896, 5 + 2 * keypoints), dtype=np.float32)
    raw[:, 0] = -10.0
    raw[anchor_index, 0] = logit
    raw[anchor_index, 1:3] = offset
    raw[anchor_index, 3:5] = size
    raw[anchor_index, 5:7] = (1.0, 1.0)  # first keypoint, relative to the anchor
    return raw


def test_decode_turns_offsets_into_boxes_around_the_anchor():
    a = anchors(128, (8, 16), (2, 6))
    boxes, scores, points = decode(raw_with_face(34), a, 0.5, 6)  # anchor 34 sits at (12, 12)
    assert scores == pytest.approx([sigmoid(np.float32(5.0))])
    # centre (12 + 2, 12 - 2) = (14, 10); size 20 x 30
    np.testing.assert_allclose(boxes[0], [4, -5, 24, 25])
    np.testing.assert_allclose(points[0, 0], [13, 13])


def test_decode_rejects_an_output_with_the_wrong_anchor_count():
    with pytest.raises(ValueError, match="896"):
        decode(np.zeros((100, 17), np.float32), anchors(128, (8, 16), (2, 6)), 0.5, 6)


def test_weighted_nms_blends_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float32)
    scores = np.array([0.9, 0.6, 0.8], dtype=np.float32)
    points = np.zeros((3, 6, 2), dtype=np.float32)
    out = weighted_nms(boxes, scores, points, 0.3, max_faces=5)
    assert len(out) == 2
    np.testing.assert_allclose(out[0][0], [0.4, 0.4, 10.4, 10.4], rtol=1e-5)  # (0*.9 + 1*.6) / 1.5
    assert out[0][1] == pytest.approx(0.9)
    np.testing.assert_allclose(out[1][0], [50, 50, 60, 60])


def test_weighted_nms_stops_at_max_faces():
    boxes = np.array([[i * 20, 0, i * 20 + 10, 10] for i in range(4)], dtype=np.float32)
    out = weighted_nms(boxes, np.full(4, 0.9, np.float32), np.zeros((4, 0, 2), np.float32), 0.3, max_faces=2)
    assert len(out) == 2


def test_to_frame_scales_and_clips_to_the_frame():
    box, pts = to_frame(np.array([-2.0, 10.0, 20.0, 100.0]), [(1.0, 2.0)], Letterbox(5.0, 640, 480))
    assert box == (0.0, 50.0, 100.0, 430.0)  # x1 = 100, y1 = 500 clipped to 480
    assert pts == ((5.0, 10.0),)


def test_blazeface_detect_reports_frame_pixels(detector_manifest):
    async def fake_model(tensor):
        assert tensor.shape == (1, 128, 128, 3)
        return raw_with_face(34, offset=(0.0, 0.0), size=(16.0, 16.0))[None]

    frame = np.zeros((480, 640, 4), dtype=np.uint8)
    faces = run_async(BlazeFace(detector_manifest, fake_model).detect(frame, max_faces=5))
    assert len(faces) == 1
    # anchor (12, 12) +- 8 in a 128 input that is the 640-wide frame shrunk by 5
    assert faces[0].box == pytest.approx((20.0, 20.0, 80.0, 80.0))
    assert faces[0].score == pytest.approx(0.9933, abs=1e-4)


def test_blazeface_below_threshold_finds_nothing(detector_manifest):
    async def fake_model(tensor):
        return raw_with_face(34, logit=0.0)  # sigmoid(0) = .5 < .6 in the manifest

    faces = run_async(BlazeFace(detector_manifest, fake_model).detect(np.zeros((48, 64, 4), np.uint8), 5))
    assert faces == []


def test_faces_found_by_several_detectors_are_merged_by_size_then_score():
    from moodlens.detect import Detection, Detectors

    from .helpers import run_async

    class Fixed:
        def __init__(self, found):
            self.found = found

        async def detect(self, frame, max_faces):
            return self.found

    frame = np.zeros((1000, 1500, 4), np.uint8)  # shorter side 1000: "near" faces are >= 200 px
    near = Fixed([Detection((100, 100, 400, 400), 0.6), Detection((900, 100, 100, 100), 0.99)])
    far = Fixed([Detection((110, 105, 390, 395), 0.9), Detection((905, 95, 95, 100), 0.8),
                 Detection((1300, 40, 20, 20), 0.6)])
    merged = run_async(Detectors([(near, 0.2, 9.9), (far, 0.0, 0.2)]).detect(frame, 10))
    # The big face: the near detector's box despite its lower score; the small one: the far
    # detector's; a face only one detector saw stays.
    assert {d.box for d in merged} == {(100, 100, 400, 400), (905, 95, 95, 100), (1300, 40, 20, 20)}
    assert len(run_async(Detectors([(near, 0.2, 9.9), (far, 0.0, 0.2)]).detect(frame, 1))) == 1
