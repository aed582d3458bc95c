"""Tracking across frames and time-based score smoothing."""

import numpy as np
import pytest

from moodlens.track import Tracker

A = np.array([1.0, 0.0], dtype=np.float32)
B = np.array([0.0, 1.0], dtype=np.float32)
P = [np.array([0.2, 0.3, 0.5], dtype=np.float32)]


def test_a_face_that_moves_a_little_keeps_its_track():
    t = Tracker(smoothing=0.0)
    first = t.update([(100, 100, 50, 50)], [A], 0)[0]
    second = t.update([(105, 102, 50, 50)], [B], 100)[0]
    assert second.id == first.id and second.seen == 2


def test_a_face_elsewhere_gets_a_new_track():
    t = Tracker()
    first = t.update([(0, 0, 50, 50)], [A], 0)[0]
    other = t.update([(300, 300, 50, 50)], [A], 50)[0]
    assert other.id != first.id


def test_two_faces_are_matched_to_their_own_tracks():
    t = Tracker()
    left, right = t.update([(0, 0, 50, 50), (200, 0, 50, 50)], [A, B], 0)
    right2, left2 = t.update([(202, 0, 50, 50), (3, 0, 50, 50)], [B, A], 100)
    assert (left2.id, right2.id) == (left.id, right.id)


def test_tracks_expire_after_max_age():
    t = Tracker(max_age_ms=500)
    first = t.update([(0, 0, 50, 50)], [A], 0)[0]
    t.update([], [], 600)  # analysed, and the face was not there
    later = t.update([(0, 0, 50, 50)], [A], 700)[0]
    assert later.id != first.id


def test_a_pause_in_the_analysis_is_not_the_face_being_away():
    """A model loading or a busy device holds the analysis for a second: the face seen in the
    frame before the pause is the same face after it."""
    t = Tracker(max_age_ms=500)
    first = t.update([(0, 0, 50, 50)], [A], 0)[0]
    assert t.update([(4, 0, 50, 50)], [A], 2000)[0].id == first.id
    t.update([], [], 2100)
    t.update([], [], 2400)
    assert t.update([(4, 0, 50, 50)], [A], 2600)[0].id == first.id  # unseen in frames for 400 ms
    t.update([], [], 3000)
    t.update([], [], 3200)  # unseen in frames from 2600 to 3200: gone
    assert t.update([(4, 0, 50, 50)], [A], 3300)[0].id != first.id


def test_smoothing_zero_reports_raw_scores():
    t = Tracker(smoothing=0.0)
    t.update([(0, 0, 50, 50)], [A], 0)
    assert t.update([(0, 0, 50, 50)], [B], 100)[0].scores.tolist() == B.tolist()


def test_smoothing_keeps_its_share_per_100ms():
    t = Tracker(smoothing=0.5)
    t.update([(0, 0, 50, 50)], [A], 0)
    np.testing.assert_allclose(t.update([(0, 0, 50, 50)], [B], 100)[0].scores, [0.5, 0.5])
    # 200 ms later it keeps 0.5 ** 2 of the old scores
    np.testing.assert_allclose(t.update([(0, 0, 50, 50)], [B], 300)[0].scores, [0.125, 0.875])


def test_retention_is_frame_rate_independent():
    t = Tracker(smoothing=0.6)
    assert t.retention(200) == pytest.approx(0.36)
    assert t.retention(50) ** 2 == pytest.approx(t.retention(100))


def test_smoothing_one_still_moves():
    assert Tracker(smoothing=1.0).retention(100) == pytest.approx(0.98)


def test_scores_stay_a_distribution():
    t = Tracker(smoothing=0.7)
    rng = np.random.default_rng(0)
    for i in range(20):
        p = rng.dirichlet(np.ones(7)).astype(np.float32)
        track = t.update([(0, 0, 50, 50)], [p], i * 33)[0]
    assert track.scores.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_face_back_after_a_short_gap_keeps_its_id_even_if_it_moved_a_little():
    t = Tracker(smoothing=0.0, max_age_ms=1500)
    first = t.update([(100, 100, 80, 80)], P, 0)[0].id
    # Gone for a second (frames with no face), back 30 px right: IoU 0.45 with its old box.
    assert t.update([(130, 100, 80, 80)], P, 1000)[0].id == first
    # Gone again, back 35 px further with IoU below the threshold but its centre close: same face.
    assert t.update([(165, 110, 85, 85)], P, 2000)[0].id == first


def test_a_face_gone_longer_than_max_age_gets_a_new_id():
    t = Tracker(smoothing=0.0, max_age_ms=1500)
    first = t.update([(100, 100, 80, 80)], P, 0)[0].id
    t.update([], P[:0], 1550)  # analysed without the face
    assert t.update([(100, 100, 80, 80)], P, 1600)[0].id != first


def test_a_face_of_another_size_near_the_old_centre_is_someone_else():
    t = Tracker(smoothing=0.0)
    first = t.update([(100, 100, 80, 80)], P, 0)[0].id
    assert t.update([(110, 110, 30, 30)], P, 100)[0].id != first


def test_a_model_with_other_labels_keeps_the_ids():
    t = Tracker(smoothing=0.6)
    first = t.update([(100, 100, 80, 80)], P, 0)[0]
    again = t.update([(102, 100, 80, 80)], np.array([[0.5, 0.5]], np.float32), 100)[0]
    assert again.id == first.id and again.scores.tolist() == [0.5, 0.5]
