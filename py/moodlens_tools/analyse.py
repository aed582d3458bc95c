"""Analyse video files headless: the built site's video mode in Chromium, numbers out.

    python3 build.py analyse VIDEO... --out DIR [--model ID] [--every N | --fps F]

For each video, in one headless Chromium (the same decoding, detection, preprocessing, model and
tracking as a visitor's browser), writes ``DIR/<stem>.csv`` (one row per face per analysed frame,
the page's own CSV), ``DIR/<stem>.json`` (the rows, metadata and summary the page's "Download
JSON" gives) and ``DIR/<stem>-timeline.png`` (matplotlib: a lane per face, each label's
probability stacked in its colour). It prints progress; a file the browser cannot read or
decode gets its message and the others go on; the exit status is 0 only when every file went
through whole. (Also: ``.venv/bin/python -m moodlens_tools.analyse …``.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from moodlens.timeline import Timeline, rgb
from moodlens_build.paths import DIST
from moodlens_build.site import build

from . import engines


def arguments(argv):
    parser = argparse.ArgumentParser(prog="build.py analyse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+", type=Path, help="video files (MP4, MOV, WebM, MKV)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV, JSON and PNG files")
    parser.add_argument("--model", help="emotion model id (default: the site's default)")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--every", type=int, default=1, help="analyse every Nth frame (default 1: every frame)")
    choice.add_argument("--fps", type=float, help="analyse this many frames per second of video instead")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds one video may take")
    args = parser.parse_args(argv)
    if args.every < 1 or (args.fps is not None and args.fps <= 0):
        parser.error("--every must be 1 or more, --fps above 0")
    return args


def chart(data: dict, path: Path) -> None:
    """The timeline as a PNG: one lane per face, stacked probabilities, label colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    timeline = Timeline.from_json(data)
    labels, colors = data["labels"], data["metadata"].get("colors") or {}
    palette = [tuple(c / 255 for c in rgb(colors.get(label, "#8b8d98"))) for label in labels]
    faces = sorted(set(timeline.face_ids.tolist()))
    end = max(data["metadata"].get("duration_s") or 0.0, timeline.last_time_s, 1e-3)
    fig, axes = plt.subplots(max(1, len(faces)), 1, figsize=(10, 1.2 + 1.1 * max(1, len(faces))), sharex=True,
                             squeeze=False)
    for ax, face in zip(axes[:, 0], faces or [None]):
        ax.set_xlim(0, end)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        if face is None:
            ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
            continue
        mine = timeline.face_ids == face
        times, scores = timeline.times[mine], timeline.scores[mine]
        # Gaps longer than half a second (the face left) stay empty instead of being bridged.
        breaks = np.flatnonzero(np.diff(times) > 0.5) + 1
        for segment_t, segment_s in zip(np.split(times, breaks), np.split(scores, breaks)):
            ax.stackplot(segment_t, segment_s.T, colors=palette, linewidth=0)
        ax.set_ylabel(f"face {face}", rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("seconds")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette]
    fig.suptitle(f"{data['metadata']['file']}: emotions per face over time (Moodlens)", fontsize="medium")
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=len(labels), frameon=False,
               fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.85))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def analyse_one(page, video: Path, out: Path, timeout: float) -> tuple[bool, str]:
    """One video through the page; writes its files; (went through whole, what to print).
    The page going to error means it gave up on this file, unless it was in error already (a
    camera-less machine, or the file before failed): then only this file's own results count."""
    fail = None if page.state() == "error" else engines.IN_ERROR
    page.set_files("#video-file", [video])
    deadline, shown = time.monotonic() + timeout, 0.0
    mine = f"r.source === 'video' && r.file === {json.dumps(video.name)}"
    while True:  # each tenth of the way, and the end
        try:
            result = page.wait_result(f"{mine} && (r.done || r.progress >= {shown + 0.1})",
                                      max(0.0, deadline - time.monotonic()), fail)
        except AssertionError:  # a file the page cannot read is done, with its message; this is worse
            why = f"Moodlens went to error: {page.status()}" if fail and page.state() == "error" else \
                f"not done after {timeout:.0f} s"
            return False, f"{video.name}: {why}"
        if result.get("done"):
            break
        shown = result["progress"]
        print(f"  {video.name}: {round(shown * 100)}% ({result['frames_analysed']} frames)", flush=True)
    text = page.run_async("return window.moodlensVideoExport ? await window.moodlensVideoExport() : null")
    if result.get("frames_analysed", 0) == 0 and not text:
        return False, f"{video.name}: {result.get('error') or 'nothing analysed'}"
    data = json.loads(text)
    (out / f"{video.stem}.json").write_text(json.dumps(data, indent=1))
    (out / f"{video.stem}.csv").write_text(Timeline.from_json(data).csv())
    chart(data, out / f"{video.stem}-timeline.png")
    summary = data["summary"]
    line = (f"{video.name}: {summary['analysed_frames']} frames in {summary.get('seconds', 0):.1f} s "
            f"({summary.get('frames_per_second') or 0:.0f}/s), {len(summary['faces'])} face(s)"
            f" -> {video.stem}.csv, .json, -timeline.png")
    if result.get("error"):
        return False, f"{line}; stopped early: {result['error']}"
    return True, line


def main(argv=None) -> int:
    args = arguments(argv)
    missing = [str(v) for v in args.videos if not v.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if not (DIST / "index.html").exists():
        build()
    site = engines.TestSite(DIST, [])
    engine = engines.launch("chromium")
    ok = True
    try:
        query = f"?model={args.model}" if args.model else ""
        page = engine.open(f"{site.base}index.html{query}", camera="none")
        state = page.wait(f"['ready', 'error'].includes({engines.STATE}) && {engines.STATE}", 180)
        if state == "error" and page.run("return !window.moodlensVideoExport"):
            print(f"Moodlens did not start: {page.status()}", file=sys.stderr)
            return 1
        every = f"fps:{args.fps:g}" if args.fps else str(args.every)
        page.run("""const [value] = arguments; const select = document.getElementById('video-every');
            if (![...select.options].some((o) => o.value === value)) select.add(new Option(value, value));
            select.value = value;""", every)
        for video in args.videos:
            print(f"{video.name}…", flush=True)
            went, line = analyse_one(page, video.resolve(), args.out, args.timeout)
            ok &= went
            print(("  " if went else "  FAILED ") + line, flush=True)
    finally:
        engine.close()
        site.close()
    print("all files went through" if ok else "some files did not go through (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
