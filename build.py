#!/usr/bin/env python3
"""Assemble, serve and test Moodlens. Standard library only, so it runs on a fresh machine.

    python3 build.py            # assemble dist/ (npm ci and the wheel download on first run)
    python3 build.py serve      # assemble, then serve dist/ on http://127.0.0.1:8000/
    python3 build.py test       # install what the tests need into .venv, assemble, run pytest
    python3 build.py test --unit  # the CPython unit tests alone: no browser, no TensorFlow, no dist/
    python3 build.py bench      # side-by-side benchmark against @vladmandic/human (not a test)
    python3 build.py convert    # a Keras 2 .h5 or an ONNX model -> model folder + manifest
    python3 build.py evaluate   # a model's accuracy on a labelled folder of pictures
    python3 build.py train      # a labelled folder of pictures -> a model folder the page runs
    python3 build.py analyse    # video files -> per-frame CSV, JSON and a timeline chart

Everything in dist/ comes from here: npm packages pinned in package.json/package-lock.json,
Pyodide wheels from the PyPI package pinned in pyproject.toml (each checked against the sha256
in Pyodide's own pyodide-lock.json), model files checked against their manifests' sha256.
Downloads are cached in node_modules/ and .cache/ (both outside git); a rebuild with nothing
changed only copies files. The steps live in py/moodlens_build/ (paths, steps, deps, wheels,
bytecode, model_files, site, serve), the tools in py/moodlens_tools/ (engines, convert, evaluate,
analyse, train); this file is the command line. Everything else runs in .venv, where py/ is installed
(editable); this file puts py/ on its own path because it runs before .venv exists.
"""


from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "py"))

from moodlens_build.deps import ensure_venv  # noqa: E402
from moodlens_build.paths import ROOT  # noqa: E402
from moodlens_build.serve import serve  # noqa: E402
from moodlens_build.site import build  # noqa: E402
from moodlens_tools.engines import ENGINES, ensure_installed  # noqa: E402


def run_with_browser(module: str, args: list[str], extras: tuple[str, ...] = ("test",),
                     engines: tuple[str, ...] = ENGINES, cwd: Path | None = ROOT) -> int:
    """Install ``extras`` into .venv and the browser ``engines``, assemble dist/, then run
    ``python -m module args`` in .venv (in ``cwd``; None: where build.py was called from)."""
    python = ensure_venv(extras)
    chromium = ensure_installed(engines)
    build()
    env = {**os.environ, "MOODLENS_CHROMIUM": chromium}
    return subprocess.call([str(python), "-m", module, *args], cwd=cwd, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("build", help="assemble dist/ (the default)")
    serve_cmd = sub.add_parser("serve", help="assemble dist/ and serve it on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    test_cmd = sub.add_parser("test", help="install test dependencies, assemble dist/, run pytest "
                                           "(other arguments go to pytest)")
    test_cmd.add_argument("--unit", action="store_true",
                          help="only the CPython unit tests (tests/unit): no browser, no TensorFlow, no dist/")
    sub.add_parser("bench", help="benchmark against @vladmandic/human (other arguments go to tests/bench/benchmark.py)")
    sub.add_parser("convert", help="Keras 2 .h5 or ONNX -> a model folder with its manifest (arguments: see `convert --help`)",
                   add_help=False)
    sub.add_parser("evaluate", help="a model's accuracy on a labelled folder, in headless Chromium "
                                    "(arguments: see `evaluate --help`)", add_help=False)
    sub.add_parser("train", help="train a model on a labelled folder -> a model folder with its report "
                                 "(arguments: see `train --help`)", add_help=False)
    sub.add_parser("analyse", help="video files -> per-frame CSV, JSON and a timeline chart, in headless Chromium "
                                   "(arguments: see `analyse --help`)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in ("test", "bench", "convert", "evaluate", "analyse", "train"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command in ("evaluate", "analyse"):
        # In the caller's folder: the paths given are theirs.
        return run_with_browser(f"moodlens_tools.{args.command}", rest, ("tools",), ("chromium",), cwd=None)
    if args.command == "train":  # the browser: --detect finds faces with the page's own detector
        return run_with_browser("moodlens_tools.train", rest, ("train",), ("chromium",), cwd=None)
    if args.command == "convert":
        return subprocess.call([str(ensure_venv(("convert",))), "-m", "moodlens_tools.convert", *rest])
    if args.command == "bench":
        return run_with_browser("tests.bench.benchmark", rest)
    if args.command == "test" and args.unit:
        paths = [] if any(arg.startswith("tests/unit") for arg in rest) else ["tests/unit"]  # or the ones named
        return subprocess.call([str(ensure_venv(("unit",))), "-m", "pytest", *paths, *rest], cwd=ROOT)
    if args.command == "test":
        return run_with_browser("pytest", rest)
    if args.command == "serve":
        serve(args.port)
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
