import json
from pathlib import Path

import pytest

from moodlens import manifest

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def emotion_manifest():
    return manifest.load(MODELS / "oarriaga-emotion" / "manifest.json")


@pytest.fixture
def detector_manifest():
    return manifest.load(MODELS / "blazeface-short" / "manifest.json")


@pytest.fixture
def emotion_dict():
    return json.loads((MODELS / "oarriaga-emotion" / "manifest.json").read_text())
