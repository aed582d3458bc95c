"""build.py's models from a folder: manifests checked before anything is served, and a model
that lists its own files (as `build.py convert` writes it) served from beside its manifest."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from moodlens_build import model_files

ROOT_MODELS = model_files.MODELS


def folder_with(tmp_path, model_id: str, change) -> object:
    folder = tmp_path / "models"
    shutil.copytree(ROOT_MODELS / model_id, folder / model_id)
    path = folder / model_id / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return folder


def test_a_manifest_with_a_bad_field_stops_the_build_naming_it(tmp_path):
    folder = folder_with(tmp_path, "blazeface-short", lambda d: d["input"].update(color="cmyk"))
    with pytest.raises(model_files.BuildError) as err:
        model_files.model_manifests(["blazeface-short"], folder)
    assert "blazeface-short/manifest.json" in str(err.value) and "input.color" in str(err.value)
    assert "cmyk" in str(err.value)


def test_a_manifest_whose_id_is_not_its_folder_stops_the_build(tmp_path):
    folder = folder_with(tmp_path, "oarriaga-emotion", lambda d: d.update(id="other"))
    with pytest.raises(model_files.BuildError, match="id is 'other', its folder is 'oarriaga-emotion'"):
        model_files.model_manifests(["oarriaga-emotion"], folder)


def local_model(tmp_path, weights: bytes = b"weights", listed: bytes = b"weights"):
    """A model folder as `build.py convert` writes it: files listed with their sha256."""
    folder = tmp_path / "models"
    model = folder / "mine"
    model.mkdir(parents=True)
    data = json.loads((ROOT_MODELS / "oarriaga-emotion" / "manifest.json").read_text())
    data.update(id="mine", format="tfjs-layers")
    (model / "model.json").write_text("{}")
    (model / "weights.bin").write_bytes(weights)
    data["files"] = [{"name": "model.json", "sha256": hashlib.sha256(b"{}").hexdigest()},
                     {"name": "weights.bin", "sha256": hashlib.sha256(listed).hexdigest()}]
    (model / "manifest.json").write_text(json.dumps(data))
    return folder, model_files.model_manifests(["mine"], folder)[0]


def test_a_converted_model_is_served_from_its_own_folder(tmp_path):
    folder, m = local_model(tmp_path)
    dest = tmp_path / "dist" / "models" / "mine"
    model_files.copy_model(m, dest, folder)
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "model.json", "weights.bin"]
    served = json.loads((dest / "manifest.json").read_text())
    assert {f["name"]: f["sha256"] for f in served["files"]}["weights.bin"] == hashlib.sha256(b"weights").hexdigest()


def test_a_converted_model_whose_file_changed_stops_the_build(tmp_path):
    folder, m = local_model(tmp_path, weights=b"other bytes")
    with pytest.raises(model_files.BuildError, match="models/mine: weights.bin has sha256 .* manifest says"):
        model_files.copy_model(m, tmp_path / "dist" / "models" / "mine", folder)


def test_a_converted_model_missing_a_file_stops_the_build(tmp_path):
    folder, m = local_model(tmp_path)
    (folder / "mine" / "weights.bin").unlink()
    with pytest.raises(model_files.BuildError, match="models/mine: weights.bin is missing beside its manifest"):
        model_files.copy_model(m, tmp_path / "dist" / "models" / "mine", folder)
