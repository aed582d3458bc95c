"""The evaluation's arithmetic and folder matching (the browser run is in tests/e2e)."""

import numpy as np
import pytest

from moodlens_tools.evaluate import confusion, match_folders, metrics

LABELS = ["angry", "happy", "neutral"]


def test_the_confusion_matrix_counts_true_rows_against_predicted_columns():
    m = confusion(["happy", "happy", "neutral", "angry"], ["happy", "neutral", "neutral", "happy"], LABELS)
    assert m.tolist() == [[0, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_metrics_are_the_textbook_ones():
    m = np.array([[0, 1, 0], [0, 1, 1], [0, 0, 1]])
    r = metrics(m, LABELS)
    assert (r["evaluated"], r["correct"], r["accuracy"]) == (4, 2, 0.5)
    assert r["per_class"]["happy"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert r["per_class"]["neutral"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(0.6667), "support": 1}
    # Never predicted, and present once: precision and recall 0, not a division error.
    assert r["per_class"]["angry"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["macro_f1"] == pytest.approx((0.5 + 0.6667 + 0.0) / 3, abs=1e-4)


def test_folders_match_labels_by_name_and_the_rest_are_reported():
    matched, unknown = match_folders(["Happy", "neutral", "contempt", "surprised"], LABELS)
    assert matched == {"Happy": "happy", "neutral": "neutral"} and unknown == ["contempt", "surprised"]
