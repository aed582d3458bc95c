"""Measure an emotion model's accuracy with the real pipeline, in headless Chromium.

    python3 build.py evaluate DATA_DIR --model fer-mini-xception --out evaluation/ [--cropped]
    python3 build.py evaluate DATA_DIR --model path/to/converted-model-folder …

DATA_DIR is laid out like FER-2013 (the Kaggle ``msambare/fer2013`` download): one folder per
label, ``DATA_DIR/<label>/*.png|jpg|jpeg|webp``. Folder names are matched to the model's labels
by name (case does not matter); folders that match no label are reported and skipped, never
guessed. Each picture goes through the built site's photo mode (the same decoding, detector,
preprocessing and model as a visitor's browser); the largest face found is the prediction.
``--cropped`` is for pictures that are one face already (FER-2013's 48×48 crops): no detection.

Writes ``report.json`` (accuracy, per-class precision/recall/F1, the confusion matrix with its
label order, images per second, failures), ``confusion.png`` and ``summary.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from moodlens import config
from moodlens import manifest as manifests
from moodlens_build.paths import DIST
from moodlens_build.serve import serve_in_thread

from . import engines, model_choice

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


# -- pure arithmetic (unit-tested) ----------------------------------------------------------
def confusion(truth: list[str], predicted: list[str], labels: list[str]) -> np.ndarray:
    """Counts, rows = true label, columns = predicted label, both in ``labels`` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t], index[p]] += 1
    return matrix


def metrics(matrix: np.ndarray, labels: list[str]) -> dict:
    """Accuracy and per-class precision, recall, F1 and support. A class never predicted (or
    never present) has precision (or recall) 0, as scikit-learn reports with zero_division=0."""
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    per_class = {}
    for i, label in enumerate(labels):
        tp = int(matrix[i, i])
        predicted, actual = int(matrix[:, i].sum()), int(matrix[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": actual}
    present = [label for label in labels if per_class[label]["support"]]
    macro_f1 = sum(per_class[label]["f1"] for label in present) / len(present) if present else 0.0
    return {"accuracy": round(correct / total, 4) if total else 0.0, "correct": correct, "evaluated": total,
            "macro_f1": round(macro_f1, 4), "per_class": per_class}


def match_folders(folders: list[str], labels: list[str]) -> tuple[dict[str, str], list[str]]:
    """Folder name -> model label, by name regardless of case; and the folders that match none."""
    by_lower = {label.lower(): label for label in labels}
    matched = {f: by_lower[f.lower()] for f in folders if f.lower() in by_lower}
    return matched, [f for f in folders if f not in matched]


def collect(data_dir: Path) -> dict[str, list[Path]]:
    """Label folder -> its pictures, sorted."""
    out = {}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        out[folder.name] = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return out


# -- pictures -------------------------------------------------------------------------------
def confusion_png(matrix: np.ndarray, labels: list[str], title: str, path: Path) -> None:
    """The matrix as a picture (matplotlib): counts in cells shaded by each row's share (recall)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    side = max(4.5, 0.75 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(side, side * 0.9), dpi=110)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontweight="bold" if i == j else None)
    fig.text(0.01, 0.01, "rows: true label; columns: predicted; shade: share of the row", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def class_table(report: dict) -> list[str]:
    """The per-label precision, recall and F1 of ``metrics``, as Markdown table lines."""
    lines = ["| label | precision | recall | F1 | pictures |", "|---|---|---|---|---|"]
    for label in report["labels"]:
        c = report["per_class"][label]
        lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
    return lines


def summary_md(report: dict) -> str:
    lines = [f"# Evaluation of `{report['model']}`", "",
             f"{report['evaluated']} pictures from `{report['data_dir']}`"
             f"{' (pre-cropped faces, no detection)' if report['cropped'] else ''}: accuracy "
             f"**{report['accuracy']:.1%}**, macro F1 {report['macro_f1']:.3f}, "
             f"{report['images_per_second']:.1f} pictures per second; {len(report['failures'])} failed.", "",
             *class_table(report)]
    if report["unknown_folders"]:
        lines += ["", "Folders skipped (no label of the model has their name): "
                  + ", ".join(f"`{k}` ({v})" for k, v in report["unknown_folders"].items())]
    lines += ["", "![confusion matrix](confusion.png)", ""]
    return "\n".join(lines)


# -- the run --------------------------------------------------------------------------------
@contextmanager
def photo_page(query: str = "", model_folder: Path | None = None, tool: str = "evaluate"):
    """The built site's photo mode in headless Chromium (``query``: its URL parameters; a model
    folder is handed to it as "Use your own model…"). Yields ``analyse(path, cropped=False)`` ->
    the page's #results entry for that picture: its faces, boxes in the picture's own pixels,
    scores; or its error. ``build.py train --detect`` finds faces with it too."""
    pictures: list[Path] = []
    server, base = serve_in_thread(DIST)
    try:
        with engines.Chromium() as engine:
            page = engine.new_page(camera="none")
            # Pictures are served to the page under a path of its own origin, by number.
            page.page.route("**/__pictures__/*", lambda route: route.fulfill(
                path=str(pictures[int(route.request.url.rsplit("/", 1)[1])])))
            page.goto(f"{base}index.html{query}")
            page.wait("document.body.dataset.state === 'ready' && typeof window.moodlensAnalyse === 'function'", 120,
                      fail=engines.IN_ERROR)
            if model_folder is not None:
                try:
                    model_choice.use_folder(page, model_folder)
                except model_choice.ModelChoiceError as exc:
                    raise SystemExit(f"{tool}: {exc}") from None

            def analyse(path: Path, cropped: bool = False) -> dict:
                pictures.append(path)
                return json.loads(page.run_async("return await window.moodlensAnalyse(...arguments)",
                                                 f"{base}__pictures__/{len(pictures) - 1}", path.name, cropped))

            yield analyse
    finally:
        server.shutdown()


def run(data_dir: Path, model: str | None, out: Path, cropped: bool, backend: str, limit: int | None) -> dict:
    index = json.loads((DIST / "models" / "index.json").read_text())
    ids = [m["id"] for m in index["emotion"]]
    model_id, model_folder = model_choice.split(model)
    if model_folder is not None:  # a converted model's folder: the page gets it as "Use your own model…"
        try:
            model_choice.folder_files(model_folder)
        except model_choice.ModelChoiceError as exc:
            raise SystemExit(f"evaluate: {exc}") from None
        own = model_choice.folder_manifest(model_folder)
        model, labels = own.id, list(own.label_names)
    else:
        model = model_id or ids[0]
        if model not in ids:
            raise SystemExit(f"evaluate: unknown model {model!r}; the site has {', '.join(ids)} "
                             "(or give a model folder)")
        labels = list(manifests.load(DIST / "models" / model / "manifest.json").label_names)

    found = collect(data_dir)
    matched, unknown = match_folders(list(found), labels)
    items = [(path, matched[folder]) for folder in found if folder in matched for path in found[folder]]
    if limit:
        items = items[:limit]
    if not items:
        raise SystemExit(f"evaluate: no pictures under {data_dir}/<label>/ whose folder names a label of "
                         f"{model} ({', '.join(labels)})" + (f"; skipped folders: {', '.join(unknown)}" if unknown else ""))
    for folder in unknown:
        print(f"evaluate: skipping {folder}/ ({len(found[folder])} pictures): no label of {model} is called that",
              file=sys.stderr)

    truth, predicted, failures = [], [], []
    query = f"?{'' if model_folder else f'model={model}&'}backend={backend}"
    with photo_page(query, model_folder, "evaluate") as analyse:
        start = time.monotonic()
        for i, (path, label) in enumerate(items):
            entry = analyse(path, cropped)
            where = str(path.relative_to(data_dir))
            if entry.get("error"):
                failures.append({"file": where, "reason": entry["error"]})
            elif not entry["faces"]:
                failures.append({"file": where, "reason": "no face found"})
            else:
                main = max(entry["faces"], key=lambda f: f["box"][2] * f["box"][3])
                truth.append(label)
                predicted.append(main["emotion"])
            if (i + 1) % 25 == 0 or i + 1 == len(items):
                rate = (i + 1) / (time.monotonic() - start)
                print(f"\r{i + 1}/{len(items)} pictures, {rate:.1f}/s, {len(failures)} failed", end="", flush=True)
        elapsed = time.monotonic() - start
    print()

    matrix = confusion(truth, predicted, labels)
    report = {"model": model, "data_dir": str(data_dir), "cropped": cropped, "backend": backend,
              "labels": labels, "confusion_matrix": matrix.tolist(), **metrics(matrix, labels),
              "images_per_second": round(len(items) / elapsed, 2) if elapsed else None,
              "pictures": len(items), "failures": failures,
              "unknown_folders": {folder: len(found[folder]) for folder in unknown}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    confusion_png(matrix, labels, f"{model}: accuracy {report['accuracy']:.1%} on {report['evaluated']} pictures",
                  out / "confusion.png")
    (out / "summary.md").write_text(summary_md(report), encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 build.py evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path, help="folder with one sub-folder of pictures per label")
    parser.add_argument("--model", help="an emotion model's id (default: the site's default model), or a model "
                                        "folder (`build.py convert` writes one: Keras, ONNX or TFLite)")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="where to write the report (default ./evaluation)")
    parser.add_argument("--cropped", action="store_true", help="pictures are single faces already: skip detection")
    parser.add_argument("--backend", default="wasm", choices=config.BACKENDS)
    parser.add_argument("--limit", type=int, help="evaluate at most this many pictures")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"evaluate: {args.data_dir} is not a folder", file=sys.stderr)
        return 2
    report = run(args.data_dir, args.model, args.out, args.cropped, args.backend, args.limit)
    print(f"{report['model']}: accuracy {report['accuracy']:.1%} on {report['evaluated']} pictures "
          f"({report['images_per_second']} per second, {len(report['failures'])} failed); "
          f"wrote {args.out}/report.json, confusion.png, summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
