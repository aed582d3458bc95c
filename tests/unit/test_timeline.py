"""The recorded timeline: rows, CSV and JSON export, the per-face and per-person summary, chart lanes."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from moodlens.timeline import Timeline, axis_ticks

LABELS = ["angry", "happy", "neutral"]


def recorded() -> Timeline:
    """Face 1 happy for 3 frames, then a frame with nobody, then face 1 neutral and face 2 angry."""
    t = Timeline(LABELS)
    for i in range(3):
        t.add(i / 10, i, [(1, (10, 20, 30, 40), (0.1, 0.8, 0.1))])
    t.add(0.3, 3, [])
    t.add(0.4, 4, [(1, (12, 20, 30, 40), (0.1, 0.2, 0.7)), (2, (100.04, 5, 20, 20), (0.6, 0.3, 0.1))])
    return t


def test_frames_without_faces_are_counted_but_give_no_row():
    t = recorded()
    assert t.frames_analysed == 5
    assert len(t) == 5  # 3 + 0 + 2
    assert sorted(set(t.frame_numbers.tolist())) == [0, 1, 2, 4]


def test_csv_has_the_contract_header_and_one_row_per_face_per_frame():
    rows = list(csv.reader(io.StringIO(recorded().csv())))
    assert rows[0] == ["time_s", "frame", "face_id", "person_id", "x", "y", "w", "h", "emotion", *LABELS]
    assert rows[1] == ["0.000", "0", "1", "", "10.0", "20.0", "30.0", "40.0", "happy", "0.10000", "0.80000",
                       "0.10000"]
    assert [r[8] for r in rows[1:]] == ["happy", "happy", "happy", "neutral", "angry"]
    assert rows[-1][:8] == ["0.400", "4", "2", "", "100.0", "5.0", "20.0", "20.0"]
    assert len(rows) == 6


def test_a_label_with_a_comma_is_quoted_in_the_csv():
    t = Timeline(["calm, content", 'so "sad"'])
    t.add(0, 0, [(1, (0, 0, 1, 1), (0.5, 0.5))])
    header = next(csv.reader(io.StringIO(t.csv())))
    assert header[-2:] == ["calm, content", 'so "sad"']


def test_summary_gives_share_per_emotion_and_mean_probabilities_per_face():
    s = recorded().summary(frames_total=9, seconds=0.5)
    assert (s["frames"], s["analysed_frames"], s["seconds"], s["frames_per_second"]) == (9, 5, 0.5, 10.0)
    one, two = s["faces"]["1"], s["faces"]["2"]
    assert (one["first_s"], one["last_s"], one["frames"]) == (0.0, 0.4, 4)
    assert one["share"] == {"angry": 0.0, "happy": 0.75, "neutral": 0.25}
    assert one["mean"]["happy"] == pytest.approx((0.8 * 3 + 0.2) / 4)
    assert two["share"]["angry"] == 1.0 and two["frames"] == 1


def test_json_round_trips_through_from_json():
    t = recorded()
    data = json.loads(json.dumps(t.to_json({"file": "a.webm"}, frames_total=9, seconds=1.0)))
    assert data["metadata"] == {"file": "a.webm"} and data["labels"] == LABELS
    assert data["rows"][0] == {"time_s": 0.0, "frame": 0, "face_id": 1, "person_id": None, "x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0,
                               "emotion": "happy", "scores": {"angry": 0.1, "happy": 0.8, "neutral": 0.1}}
    again = Timeline.from_json(data)
    assert again.csv() == t.csv()
    assert again.frames_analysed == 5


def test_lanes_average_each_column_and_leave_absent_columns_empty():
    lanes = recorded().lanes(0.0, 0.5, columns=5, hold_s=0.05)
    assert [(lane.key, lane.label) for lane in lanes] == [(("face", 1), "Face 1"), (("face", 2), "Face 2")]
    one = lanes[0].probs
    assert one.shape == (3, 5)
    assert one[:, 0] == pytest.approx([0.1, 0.8, 0.1])
    assert np.isnan(one[:, 3]).all(), "face 1 is absent at 0.3 s"
    assert one[:, 4] == pytest.approx([0.1, 0.2, 0.7])
    assert np.isnan(lanes[1].probs[:, :4]).all()


def test_the_moment_pointed_at_gives_each_face_nearest_row():
    found = recorded().at(0.38, window_s=0.05)
    assert [(who, time, extras) for who, time, _, extras in found] == [("Face 1", 0.4, {}), ("Face 2", 0.4, {})]
    assert recorded().at(10.0, window_s=0.05) == []


def test_rows_stay_compact():
    t = Timeline(["a"] * 7)
    scores = np.full(7, 1 / 7)
    for i in range(10_000):
        t.add(i / 30, i, [(1, (1, 2, 3, 4), scores)])
    per_row = sum(a.itemsize * len(a) for a in (t._time, t._frame, t._face, t._box, t._scores)) / len(t)
    assert per_row <= 64, per_row


def test_a_model_with_other_labels_starts_a_new_timeline():
    t = recorded()
    assert t.relabel(LABELS) and len(t) == 5
    assert not t.relabel(["x", "y"]) and len(t) == 0 and t.labels == ["x", "y"]
    with pytest.raises(ValueError):
        t.add(0, 0, [(1, (0, 0, 1, 1), (0.2, 0.3, 0.5))])


def test_lanes_paint_each_label_band_in_its_colour_and_absent_columns_empty():
    from moodlens.timeline import EMPTY, Lane, clock, paint_lanes, rgb

    colors = np.array([rgb("#ff0000"), rgb("#00ff00"), rgb("#0000ff"), EMPTY], np.uint8)
    probs = np.array([[0.25, np.nan], [0.75, np.nan], [0.0, np.nan]])  # column 0: angry 25%, happy 75%
    image = paint_lanes([Lane(("face", 1), "Face 1", probs)], colors, width=2, lane_h=8)
    assert image.shape == (8, 2, 4)
    column = [tuple(int(v) for v in p) for p in image[:8, 0, :3]]  # 7 rows: green on top of red, then the gap
    assert column == [(0, 255, 0)] * 5 + [(255, 0, 0)] * 2 + [EMPTY]
    assert (image[:, 1, :3] == EMPTY).all()
    assert (image[..., 3] == 255).all()
    assert (clock(7.44), clock(723.0)) == ("0:07.4", "12:03.0")
    assert rgb("#abc") == (170, 187, 204) and rgb("nonsense") == (139, 141, 152)


def test_slices_between_frames_hold_the_last_values_for_a_short_while_only():
    t = Timeline(LABELS)
    t.add(0.0, 0, [(1, (0, 0, 1, 1), (0.1, 0.8, 0.1))])
    t.add(2.0, 60, [(1, (0, 0, 1, 1), (0.7, 0.2, 0.1))])
    probs = t.lanes(0.0, 4.0, columns=40, hold_s=0.5)[0].probs  # 0.1 s per slice
    assert probs[:, 4] == pytest.approx([0.1, 0.8, 0.1])  # 0.4 s after the first row: held
    assert np.isnan(probs[:, 6]).all()  # 0.6 s after: absent
    assert probs[:, 20] == pytest.approx([0.7, 0.2, 0.1])


def people_recorded() -> Timeline:
    """Face 1 (Alice), gone, face 2 (person 2), gone, face 3: Alice again; face 4 linked to nobody."""
    t = Timeline(LABELS)
    t.add(0.0, 0, [(1, (10, 20, 30, 40), (0.1, 0.8, 0.1))])
    t.add(1.0, 30, [(2, (10, 20, 30, 40), (0.8, 0.1, 0.1))])
    t.add(5.0, 150, [(3, (10, 20, 30, 40), (0.1, 0.2, 0.7)), (4, (90, 20, 30, 40), (0.3, 0.3, 0.4))])
    t.link({1: (1, "Alice"), 2: (2, ""), 3: (1, "Alice")})
    return t


def test_rows_name_their_person_and_the_metadata_lists_the_people():
    t = people_recorded()
    rows = list(csv.reader(io.StringIO(t.csv())))
    assert [r[2:4] for r in rows[1:]] == [["1", "1"], ["2", "2"], ["3", "1"], ["4", ""]]
    data = json.loads(json.dumps(t.to_json({"file": "a.webm"})))
    assert [r["person_id"] for r in data["rows"]] == [1, 2, 1, None]
    assert data["metadata"]["people"] == [
        {"id": 1, "name": "Alice", "first_s": 0.0, "last_s": 5.0, "frames": 2, "faces": [1, 3]},
        {"id": 2, "name": "", "first_s": 1.0, "last_s": 1.0, "frames": 1, "faces": [2]}]
    alice = data["summary"]["people"]["1"]
    assert alice["share"] == {"angry": 0.0, "happy": 0.5, "neutral": 0.5}
    again = Timeline.from_json(data)
    assert again.csv() == t.csv() and again.persons == t.persons


def test_one_lane_per_person_and_one_per_unlinked_face():
    lanes = people_recorded().lanes(0.0, 6.0, columns=6, hold_s=0.1)
    assert [(lane.key, lane.label) for lane in lanes] == [(("person", 1), "Alice"), (("person", 2), "Person 2"),
                                                          (("face", 4), "Face 4")]
    alice = lanes[0].probs
    assert alice[:, 0] == pytest.approx([0.1, 0.8, 0.1]) and alice[:, 5] == pytest.approx([0.1, 0.2, 0.7])
    assert np.isnan(alice[:, 1:5]).all()
    assert [who for who, *_ in people_recorded().at(5.0, 0.1)] == ["Alice", "Face 4"]


def test_valence_and_arousal_go_into_every_export_and_the_summary():
    t = Timeline(["happy", "sad"], extras=("valence", "arousal"))
    t.add(0.0, 0, [(1, (0, 0, 10, 10), (0.9, 0.1), (0.5, -0.2))])
    t.add(0.5, 1, [(1, (0, 0, 10, 10), (0.2, 0.8), (-0.3, 0.4))])
    header, first, _ = t.csv().splitlines()
    assert header.endswith(",emotion,happy,sad,valence,arousal")
    assert first.endswith(",happy,0.90000,0.10000,0.50000,-0.20000")
    row = t.rows()[1]
    assert (row["valence"], row["arousal"]) == pytest.approx((-0.3, 0.4))
    face = t.summary()["faces"]["1"]
    assert face["valence"] == pytest.approx({"mean": 0.1, "min": -0.3, "max": 0.5})
    assert face["arousal"] == pytest.approx({"mean": 0.1, "min": -0.2, "max": 0.4})
    data = t.to_json({})
    assert data["regressions"] == ["valence", "arousal"]
    back = Timeline.from_json(data)
    assert back.extras == ["valence", "arousal"] and back.csv() == t.csv()
    (_, when, _, extras), = t.at(0.45, window_s=0.1)  # the moment pointed at, for the readout
    assert when == 0.5 and extras == pytest.approx({"valence": -0.3, "arousal": 0.4})
    lane = t.lanes(0.0, 1.0, 2)[0]
    assert lane.extras.shape == (2, 2) and lane.extras[:, 1].tolist() == pytest.approx([-0.3, 0.4])
    with pytest.raises(ValueError, match="1 values for 2 regression outputs"):
        t.add(1.0, 2, [(1, (0, 0, 10, 10), (0.5, 0.5), (0.1,))])


def test_a_model_without_valence_has_no_such_column():
    t = Timeline(["happy", "sad"])
    t.add(0.0, 0, [(1, (0, 0, 10, 10), (0.9, 0.1))])
    assert "valence" not in t.csv() and "valence" not in t.rows()[0] and "regressions" not in t.to_json({})
    assert "valence" not in t.summary()["faces"]["1"] and t.lanes(0.0, 1.0, 2)[0].extras is None
    assert not t.relabel(["happy", "sad"], ["valence", "arousal"])  # other outputs: a fresh timeline


def test_the_time_axis_labels_fit_the_chart_without_running_into_each_other():
    label = 36  # "0:00.0" in 12 px text
    assert axis_ticks(1100, label) == [0.0, 0.25, 0.5, 0.75, 1.0]  # a desktop chart: five
    phone = axis_ticks(186, label)  # a 390 px wide phone: fewer, spread over the whole axis
    assert phone[0] == 0.0 and phone[-1] == 1.0 and 2 <= len(phone) < 5
    for width in (60, 90, 186, 250, 400, 1100):
        ticks = axis_ticks(width, label)
        # Where each label's text lies: flush left at 0, flush right at 1, centred in between.
        starts = [f * width - (label if f == 1 else 0 if f == 0 else label / 2) for f in ticks]
        assert all(b - (a + label) >= label / 2 for a, b in zip(starts, starts[1:])), (width, ticks)
    assert axis_ticks(50, label) == [0.0]  # no room for two: the start alone
