"""`python3 build.py evaluate` on a small labelled folder the test builds from real face crops."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from moodlens_build.paths import ROOT

from . import media

# Faces of the face-api demo photos (x, y, w, h in photo pixels, as photo mode finds them),
# labelled by eye. The test checks the report's arithmetic, not the model's judgement.
FACES = {
    "happy": [("sample1.jpg", (412, 399, 189, 189)), ("sample1.jpg", (840, 468, 170, 170)),
              ("sample1.jpg", (1480, 256, 160, 160)), ("sample6.jpg", (658, 372, 234, 234)),
              ("sample6.jpg", (1474, 307, 224, 224)), ("sample5.jpg", (582, 463, 198, 198)),
              ("sample5.jpg", (1398, 422, 218, 218))],
    "Neutral": [("sample6.jpg", (220, 532, 219, 219)), ("sample6.jpg", (1161, 347, 233, 233)),
                ("sample5.jpg", (1110, 243, 176, 176))],
    "bored": [("sample5.jpg", (761, 150, 175, 175))],  # no model label is called that
}
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def crop(name, box, grow: float) -> Image.Image:
    x, y, w, h = box
    image = Image.open(media.SAMPLES / name).convert("RGB")
    return image.crop((int(x - grow * w), int(y - grow * h), int(x + (1 + grow) * w), int(y + (1 + grow) * h)))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    for label, faces in FACES.items():
        for i, (name, box) in enumerate(faces):
            (root / "photos" / label).mkdir(parents=True, exist_ok=True)
            (root / "fer" / label).mkdir(parents=True, exist_ok=True)
            crop(name, box, 0.5).save(root / "photos" / label / f"{i}.jpg")  # a face with its surroundings
            crop(name, box, 0.0).convert("L").resize((48, 48)).save(root / "fer" / label / f"{i}.png")  # FER-style
    media.photo("sample5.jpg", media.NO_FACE_CROP).save(root / "photos" / "Neutral" / "stairs.png")
    return root


def evaluate(*args) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, str(ROOT / "build.py"), "evaluate", *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = args[args.index("--out") + 1]
    return done, json.loads((out / "report.json").read_text())


def check_arithmetic(report: dict, out) -> None:
    matrix = np.array(report["confusion_matrix"])
    assert report["labels"] == LABELS and matrix.shape == (7, 7)
    assert matrix.sum() == report["evaluated"] == report["pictures"] - len(report["failures"])
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-4)
    assert matrix[LABELS.index("happy")].sum() == 7 and matrix[LABELS.index("neutral")].sum() == 3
    for i, label in enumerate(LABELS):
        c = report["per_class"][label]
        assert c["support"] == matrix[i].sum()
        if matrix[:, i].sum():
            assert c["precision"] == pytest.approx(matrix[i, i] / matrix[:, i].sum(), abs=1e-4)
    assert report["unknown_folders"] == {"bored": 1}
    assert report["images_per_second"] > 0
    png = (out / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(out / "confusion.png").size[0] > 400
    assert f"accuracy **{report['accuracy']:.1%}**" in (out / "summary.md").read_text()


def test_evaluation_of_photos_with_detection(folders, tmp_path):
    out = tmp_path / "report"
    done, report = evaluate(folders / "photos", "--model", "fer-mini-xception", "--out", out)
    assert report["model"] == "fer-mini-xception" and not report["cropped"]
    assert report["pictures"] == 11 and report["failures"] == [{"file": "Neutral/stairs.png", "reason": "no face found"}]
    check_arithmetic(report, out)
    assert "skipping bored/ (1 pictures)" in done.stderr and "11/11 pictures" in done.stdout


def test_evaluation_of_pre_cropped_faces_skips_detection(folders, tmp_path):
    out = tmp_path / "report"
    _, report = evaluate(folders / "fer", "--model", "oarriaga-emotion", "--out", out, "--cropped")
    assert report["cropped"] and report["pictures"] == 10 and report["failures"] == []
    check_arithmetic(report, out)
