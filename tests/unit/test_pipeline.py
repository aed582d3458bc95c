"""One pipeline step with fake detector and classifier: the #results contract."""

import dataclasses

import numpy as np
import pytest

from moodlens.detect import Detection
from moodlens.pipeline import Pipeline, to_probabilities

from .helpers import run_async


class FakeDetector:
    def __init__(self, boxes):
        self.boxes = boxes

    async def detect(self, frame, max_faces):
        return [Detection(b, 0.9) for b in self.boxes][:max_faces]


def run_step(manifest, boxes, logits, max_faces=5):
    seen = {}

    async def classify(batch):
        seen["batch"] = batch
        return np.array(logits[: len(batch)], dtype=np.float32)

    pipe = Pipeline(FakeDetector(boxes), classify, manifest, max_faces=max_faces, smoothing=0.0)
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    return run_async(pipe.step(frame, 0.0)), seen


def test_results_follow_the_documented_contract(emotion_manifest):
    probs = [[0.1, 0, 0, 0.7, 0.1, 0, 0.1], [0, 0, 0, 0, 0, 0.9, 0.1]]
    result, seen = run_step(emotion_manifest, [(10, 20, 100, 100), (300, 50, 80, 80)], probs)
    data = result.to_json()
    assert seen["batch"].shape == (2, 64, 64, 1)
    assert data["frame"] == 1 and data["model"] == "oarriaga-emotion" and data["time_ms"] >= 0
    assert [f["emotion"] for f in data["faces"]] == ["happy", "surprise"]
    assert data["faces"][0]["box"] == [10, 20, 100, 100]
    assert list(data["faces"][0]["scores"]) == list(emotion_manifest.label_names)
    assert sum(data["faces"][1]["scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_no_face_means_no_classification(emotion_manifest):
    result, seen = run_step(emotion_manifest, [], [])
    assert result.faces == [] and "batch" not in seen


def test_max_faces_caps_the_batch(emotion_manifest):
    boxes = [(i * 100, 0, 60, 60) for i in range(5)]
    result, seen = run_step(emotion_manifest, boxes, [[1, 0, 0, 0, 0, 0, 0]] * 5, max_faces=2)
    assert len(result.faces) == 2 and seen["batch"].shape[0] == 2


def test_logits_are_turned_into_probabilities(emotion_manifest):
    m = dataclasses.replace(emotion_manifest, output="logits")
    p = to_probabilities(np.array([[0, 0, 0, np.log(4), 0, 0, 0]], np.float32), m)
    assert p[0, 3] == pytest.approx(0.4) and p.sum() == pytest.approx(1.0)


def test_output_size_must_match_the_labels(emotion_manifest):
    with pytest.raises(ValueError, match="6 values per face, manifest lists 7"):
        to_probabilities(np.zeros((1, 6), np.float32), emotion_manifest)


def va_manifest(emotion_manifest):
    """The 7 labels as logits at outputs 0, 1, 3..7, valence at 2 and arousal at 8 (out of order
    on purpose: the indices, not the position, say which value is which)."""
    return dataclasses.replace(emotion_manifest, output="logits", regressions=(("valence", 2), ("arousal", 8)))


def test_valence_and_arousal_are_read_from_their_indices_and_left_as_given(emotion_manifest):
    m = va_manifest(emotion_manifest)
    out = np.array([[0, 0, -0.4, 0, np.log(4), 0, 0, 0, 0.9]], np.float32)
    p = to_probabilities(out, m)
    assert p.shape == (1, 9)
    assert p[0, :7].sum() == pytest.approx(1.0) and p[0, 3] == pytest.approx(0.4)  # happy: output 4
    assert p[0, 7:].tolist() == pytest.approx([-0.4, 0.9])  # not softmaxed, not clipped
    with pytest.raises(ValueError, match="7 values per face, manifest lists 7 labels and valence and arousal"):
        to_probabilities(np.zeros((1, 7), np.float32), m)


def test_valence_and_arousal_reach_the_results_smoothed_like_the_scores(emotion_manifest):
    m = va_manifest(emotion_manifest)
    out = [[0, 0, -0.5, 0, 3, 0, 0, 0, 0.5]]

    async def classify(batch):
        return np.array(out, dtype=np.float32)

    pipe = Pipeline(FakeDetector([(10, 20, 100, 100)]), classify, m, max_faces=1, smoothing=0.5)
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    first = run_async(pipe.step(frame, 0.0)).to_json()["faces"][0]
    assert first["emotion"] == "happy" and (first["valence"], first["arousal"]) == (-0.5, 0.5)
    out[0][2], out[0][8] = 0.5, -0.5
    second = run_async(pipe.step(frame, 100.0)).to_json()["faces"][0]
    assert (second["valence"], second["arousal"]) == pytest.approx((0.0, 0.0))  # half kept over 100 ms


def test_a_model_without_valence_gives_no_such_field(emotion_manifest):
    result, _ = run_step(emotion_manifest, [(10, 20, 100, 100)], [[0, 0, 0, 1, 0, 0, 0]])
    face = result.to_json()["faces"][0]
    assert "valence" not in face and "arousal" not in face and result.faces[0].regressions == ()


class CountingDetector(FakeDetector):
    calls = 0

    async def detect(self, frame, max_faces):
        self.calls += 1
        return await super().detect(frame, max_faces)


def steps(detector, n, detect_every, manifest):
    async def classify(batch):
        return np.tile(np.eye(1, len(manifest.labels), 3, dtype=np.float32), (len(batch), 1))

    pipe = Pipeline(detector, classify, manifest, max_faces=5, smoothing=0.0, detect_every=detect_every)
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    return pipe, [run_async(pipe.step(frame, i * 33.0)) for i in range(n)]


def test_detect_every_k_reuses_boxes_between_detections(emotion_manifest):
    detector = CountingDetector([(10, 20, 100, 100)])
    _, results = steps(detector, 6, 3, emotion_manifest)
    assert detector.calls == 2
    assert [r.detected for r in results] == [True, False, False, True, False, False]
    # Frames between detections still classify the face and keep its track.
    assert all(len(r.faces) == 1 and r.faces[0].track_id == results[0].faces[0].track_id for r in results)
    assert "detect" not in results[1].stages_ms and "classify" in results[1].stages_ms


def test_face_descriptors_come_only_from_frames_the_faces_were_found_in(emotion_manifest):
    described = []

    class Describer:
        async def update(self, frame, namespace, detections, tracks, now_ms, fresh=True):
            described.append(fresh)
            return [None] * len(tracks)

    detector = CountingDetector([(10, 20, 100, 100)])

    async def classify(batch):
        return np.tile(np.eye(1, len(emotion_manifest.labels), 3, dtype=np.float32), (len(batch), 1))

    pipe = Pipeline(detector, classify, emotion_manifest, max_faces=5, smoothing=0.0, detect_every=3)
    pipe.describer = Describer()
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    results = [run_async(pipe.step(frame, i * 33.0)) for i in range(6)]
    assert described == [r.detected for r in results] == [True, False, False, True, False, False]
    run_async(pipe.classify_boxes(frame, [(10, 20, 100, 100)]))  # boxes given with the picture: its own
    assert described[-1] is True


def test_an_empty_view_is_searched_on_every_frame(emotion_manifest):
    detector = CountingDetector([])
    _, results = steps(detector, 4, 3, emotion_manifest)
    assert detector.calls == 4 and all(r.detected for r in results)


def test_reset_forgets_the_boxes(emotion_manifest):
    detector = CountingDetector([(10, 20, 100, 100)])
    pipe, _ = steps(detector, 1, 5, emotion_manifest)
    pipe.reset()
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    assert run_async(pipe.step(frame, 0.0)).detected and detector.calls == 2


def test_landmarks_and_inputs_join_the_results_when_asked(emotion_manifest):
    class FakeLandmarks:
        async def find(self, frame, found):
            return [np.array([[d.box[0], d.box[1]], [d.box[0] + 1.25, d.box[1] + 2.5]], np.float32) for d in found]

    async def classify(batch):
        return np.tile(np.eye(1, 7, 3, dtype=np.float32), (len(batch), 1))

    pipe = Pipeline(FakeDetector([(10, 20, 100, 100)]), classify, emotion_manifest, max_faces=5, smoothing=0.0)
    frame = np.full((480, 640, 4), 128, dtype=np.uint8)
    plain = run_async(pipe.step(frame, 0.0))
    assert "landmarks" not in plain.to_json()["faces"][0] and plain.inputs is None
    pipe.landmarks, pipe.keep_inputs = FakeLandmarks(), True
    result = run_async(pipe.step(frame, 33.0))
    assert result.to_json()["faces"][0]["landmarks"] == [[10.0, 20.0], [11.2, 22.5]]
    assert result.inputs.shape == (1, 64, 64, 1) and "landmarks" in result.stages_ms


def test_given_boxes_are_classified_without_detection(emotion_manifest):
    detector = CountingDetector([(0, 0, 5, 5)])
    seen = {}

    async def classify(batch):
        seen["shape"] = batch.shape
        return np.tile(np.eye(1, 7, 6, dtype=np.float32), (len(batch), 1))

    pipe = Pipeline(detector, classify, emotion_manifest, max_faces=5, smoothing=0.0)
    result = run_async(pipe.classify_boxes(np.zeros((48, 48, 4), np.uint8), [(0, 0, 48, 48)]))
    assert detector.calls == 0 and not result.detected and seen["shape"] == (1, 64, 64, 1)
    assert [f.emotion for f in result.faces] == ["neutral"] and result.faces[0].box == (0, 0, 48, 48)
