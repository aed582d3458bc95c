"""Analyse video files headless: the built site's video mode in Chromium, numbers out.

    python3 build.py analyse VIDEO... --out DIR [--model ID] [--every N | --fps F] [--match D | --no-people]

For each video, in one headless Chromium (the same decoding, detection, preprocessing, model and
tracking as a visitor's browser), writes ``DIR/<stem>.csv`` (one row per face per analysed frame,
the page's own CSV), ``DIR/<stem>.json`` (the rows, metadata and summary the page's "Download
JSON" gives) and ``DIR/<stem>-timeline.png`` (matplotlib: a lane per person, each label's
probability stacked in its colour). The files of one run share one set of people (one page
session): the same person has the same ``person_id`` in every file's CSV, and ``DIR/people.json``
says who was seen in which file and when (no face descriptors: they never leave the page). It prints progress; a file the browser cannot read or
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
    people = parser.add_mutually_exclusive_group()
    people.add_argument("--match", type=float, help="largest face-descriptor distance that is still one person "
                                                    "(default 0.32; docs/people.md)")
    people.add_argument("--no-people", action="store_true", help="no face descriptors: faces are tracks only")
    parser.add_argument("--people", type=Path, metavar="DIR", dest="references",
                        help="a folder per person's name, each with pictures of that person's face alone: "
                             "they are named from the start")
    parser.add_argument("--include-descriptors", action="store_true",
                        help="put each person's mean face descriptor into people.json (biometric data: "
                             "only where you must, e.g. to join runs yourself)")
    args = parser.parse_args(argv)
    if args.every < 1 or (args.fps is not None and args.fps <= 0):
        parser.error("--every must be 1 or more, --fps above 0")
    if args.match is not None and not 0.05 <= args.match <= 0.8:
        parser.error("--match must be between 0.05 and 0.8 (a cosine distance; default 0.32)")
    if args.no_people and (args.references or args.include_descriptors):
        parser.error("--people and --include-descriptors need people: leave out --no-people")
    return args


PICTURES = (".jpg", ".jpeg", ".png", ".webp")


def reference_folders(folder: Path) -> list[tuple[str, list[Path]]]:
    """``--people DIR``: (name, pictures) per subfolder; ValueError saying what is wrong."""
    if not folder.is_dir():
        raise ValueError(f"--people {folder}: no such folder")
    people = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        pictures = sorted(p for p in sub.iterdir() if p.suffix.lower() in PICTURES)
        if not pictures:
            raise ValueError(f"--people {folder}: {sub.name}/ has no pictures ({', '.join(PICTURES)})")
        people.append((sub.name, pictures))
    if not people:
        raise ValueError(f"--people {folder}: expected a folder per person (DIR/Alice/1.jpg, ...), found none")
    return people


def add_references(page, base: str, folder: Path) -> bool:
    """Each reference person into the page's people, named; a person whose pictures fail is left
    out with the reason (the run goes on)."""
    from urllib.parse import quote

    ok = True
    for name, pictures in reference_folders(folder):
        urls = [f"{base}__test__/{quote(p.relative_to(folder).as_posix())}" for p in pictures]
        answer = json.loads(page.run_async("return await window.moodlensAddPerson(arguments[0], arguments[1])",
                                           name, urls))
        if "error" in answer:
            ok = False
            print(f"  FAILED --people {name}: {answer['error']}; {name} is left out", flush=True)
        else:
            print(f"  {name}: person {answer['id']}, from {answer['pictures']} picture(s)", flush=True)
    return ok


def query(args) -> str:
    params = ([f"model={args.model}"] if args.model else []) + (["people=0"] if args.no_people else []) + \
        ([f"match={args.match:g}"] if args.match is not None else [])
    return "?" + "&".join(params) if params else ""


def people_json(exports: list[dict], named: dict[int, str] | None = None, descriptors: dict | None = None) -> dict:
    """Who was seen in which file and when, from each file's metadata (ids are the run's);
    ``named``: the reference people (listed even when seen nowhere); ``descriptors``: person id ->
    mean descriptor, only with --include-descriptors."""
    people: dict[int, dict] = {pid: {"id": pid, "name": name, "seen": []} for pid, name in (named or {}).items()}
    for data in exports:
        meta = data["metadata"]
        for p in meta.get("people", []):
            person = people.setdefault(p["id"], {"id": p["id"], "name": p.get("name", ""), "seen": []})
            person["name"] = person["name"] or p.get("name", "")
            person["seen"].append({"file": meta["file"], "first_s": p["first_s"], "last_s": p["last_s"],
                                   "frames": p["frames"], "face_ids": p["faces"]})
    for pid, person in people.items():
        if descriptors is not None and str(pid) in descriptors:
            person["descriptor"] = descriptors[str(pid)]
    return {"files": [d["metadata"]["file"] for d in exports], "people": [people[k] for k in sorted(people)]}


def chart(data: dict, path: Path) -> None:
    """The timeline as a PNG: one lane per face, stacked probabilities, label colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    timeline = Timeline.from_json(data)
    labels, colors = data["labels"], data["metadata"].get("colors") or {}
    palette = [tuple(c / 255 for c in rgb(colors.get(label, "#8b8d98"))) for label in labels]
    lanes: dict = {}  # one per person (a face linked to nobody: its own), in order of appearance
    for face in dict.fromkeys(timeline.face_ids.tolist()):
        key, label = timeline.lane_of(face)
        lanes.setdefault(key, (label, []))[1].append(face)
    end = max(data["metadata"].get("duration_s") or 0.0, timeline.last_time_s, 1e-3)
    fig, axes = plt.subplots(max(1, len(lanes)), 1, figsize=(10, 1.2 + 1.1 * max(1, len(lanes))), sharex=True,
                             squeeze=False)
    for ax, lane in zip(axes[:, 0], list(lanes.values()) or [None]):
        ax.set_xlim(0, end)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        if lane is None:
            ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
            continue
        label, faces = lane
        mine = np.isin(timeline.face_ids, faces)
        times, scores = timeline.times[mine], timeline.scores[mine]
        # Gaps longer than half a second (the face left) stay empty instead of being bridged.
        breaks = np.flatnonzero(np.diff(times) > 0.5) + 1
        for segment_t, segment_s in zip(np.split(times, breaks), np.split(scores, breaks)):
            ax.stackplot(segment_t, segment_s.T, colors=palette, linewidth=0)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("seconds")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette]
    fig.suptitle(f"{data['metadata']['file']}: emotions per person over time (Moodlens)", fontsize="medium")
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=len(labels), frameon=False,
               fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.85))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def analyse_one(page, video: Path, out: Path, timeout: float) -> tuple[bool, str, dict | None]:
    """One video through the page; writes its files; (went through whole, what to print, its JSON).
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
            return False, f"{video.name}: {why}", None
        if result.get("done"):
            break
        shown = result["progress"]
        print(f"  {video.name}: {round(shown * 100)}% ({result['frames_analysed']} frames)", flush=True)
    text = page.run_async("return window.moodlensVideoExport ? await window.moodlensVideoExport() : null")
    if result.get("frames_analysed", 0) == 0 and not text:
        return False, f"{video.name}: {result.get('error') or 'nothing analysed'}", None
    data = json.loads(text)
    (out / f"{video.stem}.json").write_text(json.dumps(data, indent=1))
    (out / f"{video.stem}.csv").write_text(Timeline.from_json(data).csv())
    chart(data, out / f"{video.stem}-timeline.png")
    summary = data["summary"]
    who = (f"{len(summary['people'])} person(s) ({len(summary['faces'])} tracks)" if "people" in summary
           else f"{len(summary['faces'])} face(s)")
    line = (f"{video.name}: {summary['analysed_frames']} frames in {summary.get('seconds', 0):.1f} s "
            f"({summary.get('frames_per_second') or 0:.0f}/s), {who} -> {video.stem}.csv, .json, -timeline.png")
    if result.get("error"):
        return False, f"{line}; stopped early: {result['error']}", data
    return True, line, data


def main(argv=None) -> int:
    args = arguments(argv)
    missing = [str(v) for v in args.videos if not v.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if args.references:
        try:
            reference_folders(args.references)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if not (DIST / "index.html").exists():
        build()
    site = engines.TestSite(DIST, [], extra=args.references)
    engine = engines.launch("chromium")
    ok = True
    try:
        page = engine.open(f"{site.base}index.html{query(args)}", camera="none")
        state = page.wait(f"['ready', 'error'].includes({engines.STATE}) && {engines.STATE}", 180)
        if state == "error" and page.run("return !window.moodlensVideoExport"):
            print(f"Moodlens did not start: {page.status()}", file=sys.stderr)
            return 1
        named = {}
        if args.references:
            print(f"people from {args.references}…", flush=True)
            ok &= add_references(page, site.base, args.references)
            named = {p["id"]: p["name"] for p in json.loads(page.run_async(
                "return await window.moodlensPeopleNames()"))}
        every = f"fps:{args.fps:g}" if args.fps else str(args.every)
        page.run("""const [value] = arguments; const select = document.getElementById('video-every');
            if (![...select.options].some((o) => o.value === value)) select.add(new Option(value, value));
            select.value = value;""", every)
        exports = []
        for video in args.videos:
            print(f"{video.name}…", flush=True)
            went, line, data = analyse_one(page, video.resolve(), args.out, args.timeout)
            ok &= went
            print(("  " if went else "  FAILED ") + line, flush=True)
            if data is not None:
                exports.append(data)
        if not args.no_people:
            descriptors = json.loads(page.run_async("return await window.moodlensPeopleDescriptors()")) \
                if args.include_descriptors else None
            people = people_json(exports, named, descriptors)
            (args.out / "people.json").write_text(json.dumps(people, indent=1))
            print(f"{len(people['people'])} person(s) across {len(exports)} file(s) -> people.json")
    finally:
        engine.close()
        site.close()
    print("all files went through" if ok else "some files did not go through (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
