"""`build.py train`'s decisions before TensorFlow: the folder's layout, the split, the weights
and the refusals (the training itself is in tests/e2e/test_train.py)."""

from pathlib import Path

import pytest

from moodlens_tools.train import (Options, TrainingError, check_layout, check_options, class_weights, read_layout,
                                  split)


def pictures(folder: Path, counts: dict[str, int], suffix=".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for label, n in counts.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (folder / label / f"{i:03d}{suffix}").write_bytes(b"")
    return folder


def test_label_folders_directly_or_under_train_with_val_and_test_beside(tmp_path):
    flat = pictures(tmp_path / "flat", {"happy": 12, "sad": 11})
    (flat / "happy" / "readme.txt").write_text("x")
    layout = read_layout(flat)
    assert sorted(layout.train) == ["happy", "sad"] and layout.val is None and layout.test is None
    assert layout.ignored == ["happy/readme.txt"]

    kaggle = pictures(tmp_path / "fer" / "train", {"angry": 10, "happy": 10}).parent
    pictures(kaggle / "test", {"angry": 3, "happy": 4})
    layout = read_layout(kaggle)
    assert {k: len(v) for k, v in layout.test.items()} == {"angry": 3, "happy": 4} and layout.val is None
    assert check_layout(layout, kaggle) == ["angry", "happy"]


def test_the_split_is_stratified_seeded_and_leaves_every_label_both_sides():
    items = {"a": [Path(f"a{i}") for i in range(10)], "b": [Path(f"b{i}") for i in range(31)]}
    train, val = split(items, 0.2, seed=4)
    assert {k: len(v) for k, v in val.items()} == {"a": 2, "b": 6}
    assert all(set(train[k]).isdisjoint(val[k]) and len(train[k]) + len(val[k]) == len(items[k]) for k in items)
    assert split(items, 0.2, seed=4) == (train, val)
    assert split(items, 0.2, seed=5) != (train, val)
    _, tiny = split({"a": [Path("1"), Path("2")]}, 0.05, seed=0)
    assert len(tiny["a"]) == 1  # never none held out, never all


def test_class_weights_give_each_label_the_same_total_say():
    weights = class_weights([10, 30, 60])
    assert [weights[i] * n for i, n in enumerate([10, 30, 60])] == pytest.approx([100 / 3] * 3)


@pytest.mark.parametrize("counts, message", [
    ({"happy": 20}, "needs at least 2 label folders"),
    ({}, "found none"),
    ({"happy": 20, "sad": 3, "fear": 0}, "too few in fear/ (0), sad/ (3)"),
])
def test_folders_training_cannot_start_from_are_refused(tmp_path, counts, message):
    data = pictures(tmp_path / "d", counts)
    with pytest.raises(TrainingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_layout(read_layout(data), data)


def test_a_held_out_label_training_has_not_is_refused(tmp_path):
    data = pictures(tmp_path / "d" / "train", {"happy": 10, "sad": 10}).parent
    pictures(data / "test", {"happy": 2, "bored": 2})
    with pytest.raises(TrainingError, match="test/ has label folders training has not: bored"):
        check_layout(read_layout(data), data)


@pytest.mark.parametrize("change, message", [
    ({"epochs": 0}, "--epochs must be between 1"),
    ({"val_split": 0.9}, "--val-split is a share of each label's pictures"),
    ({"test_split": 0.0}, "--test-split is a share of each label's pictures"),
    ({"learning_rate": 5.0}, "--learning-rate must be between 0 and 1"),
])
def test_absurd_options_are_refused(tmp_path, change, message):
    with pytest.raises(TrainingError, match=message):
        check_options(Options(data_dir=tmp_path / "data", out=tmp_path / "new", **change))


def test_an_existing_out_needs_force(tmp_path):
    (tmp_path / "model").mkdir()
    with pytest.raises(TrainingError, match="exists; choose another --out, or add --force"):
        check_options(Options(data_dir=tmp_path / "data", out=tmp_path / "model"))
    assert check_options(Options(data_dir=tmp_path / "data", out=tmp_path / "model", force=True)) == "model"


@pytest.mark.parametrize("out", ["data/model", "data", "."])
def test_an_out_that_is_or_holds_the_pictures_is_refused_even_with_force(tmp_path, monkeypatch, out):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "data" if out == "." else tmp_path)
    with pytest.raises(TrainingError, match="the pictures .*write the model somewhere else"):
        check_options(Options(data_dir=tmp_path / "data", out=Path(out), force=True))


def test_the_model_id_comes_from_the_folder_name_in_the_manifests_alphabet(tmp_path):
    for name, expected in (("Modèle 2", "mod-le-2"), ("My Model", "my-model"), ("ÉÉÉ", "trained-model"),
                           ("x" * 80, "x" * 64)):
        assert check_options(Options(data_dir=tmp_path / "data", out=tmp_path / name)) == expected
