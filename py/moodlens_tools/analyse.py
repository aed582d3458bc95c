"""Analyse video files headless: the built site's video mode in Chromium, numbers out.

    python3 build.py analyse VIDEO... --out DIR [--model ID] [--every N | --fps F] [--match D | --no-people]
                             [--people DIR] [--include-descriptors] [--jobs N | --shard K/N]
    python3 build.py analyse --merge SHARD_DIR... --out DIR

For each video, in one headless Chromium (the same decoding, detection, preprocessing, model and
tracking as a visitor's browser), writes ``DIR/<stem>.csv`` (one row per face per analysed frame,
the page's own CSV), ``DIR/<stem>.json`` (the rows, metadata and summary the page's "Download
JSON" gives) and ``DIR/<stem>-timeline.png`` (matplotlib: a lane per person, each label's
probability stacked in its colour). The files of one run share one set of people (one page
session): the same person has the same ``person_id`` in every file's CSV, and ``DIR/people.json``
says who was seen in which file and when (no face descriptors: they never leave the page).
Person ids are the run's: numbered by first appearance (reference people of ``--people`` first).

Many files: ``--jobs N`` analyses N slices of the file list in N pages at once and joins their
people by face descriptor; ``--shard K/N`` analyses only the K-th of N slices (one array job of a
cluster each) and ``--merge`` joins the shards' folders into the files one run would have
written. A shard's folder holds ``shard.json`` with its people's mean descriptors, which the
merge needs: biometric data, to delete once merged. It prints progress; a file the browser cannot read or
decode gets its message and the others go on; the exit status is 0 only when every file went
through whole. (Also: ``.venv/bin/python -m moodlens_tools.analyse …``.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from moodlens.people import THRESHOLD
from moodlens.timeline import Timeline, rgb
from moodlens_build.paths import DIST
from moodlens_build.site import build

from . import engines, model_choice


def arguments(argv):
    parser = argparse.ArgumentParser(prog="build.py analyse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="*", type=Path, help="video files (MP4, MOV, WebM, MKV)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV, JSON and PNG files")
    parser.add_argument("--model", help="an emotion model's id (default: the site's default), or a model folder "
                                        "(`build.py convert` writes one: Keras, ONNX or TFLite)")
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
    many = parser.add_mutually_exclusive_group()
    many.add_argument("--jobs", type=int, default=1, help="analyse in N pages at once (default 1)")
    many.add_argument("--shard", metavar="K/N", help="analyse only the K-th of N slices of the file list")
    many.add_argument("--merge", type=Path, nargs="+", metavar="SHARD_DIR",
                      help="join the folders of shards K/N (all N of them) into --out")
    args = parser.parse_args(argv)
    if args.merge and args.videos:
        parser.error("--merge joins shard folders: give no video files with it")
    if not args.merge and not args.videos:
        parser.error("give the video files to analyse (or --merge SHARD_DIR...)")
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    if args.shard is not None:
        k, _, n = args.shard.partition("/")
        if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            parser.error(f"--shard {args.shard}: expected K/N with 1 <= K <= N, e.g. 2/8")
        args.shard = (int(k), int(n))
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
    model_id, _ = model_choice.split(args.model)
    params = ([f"model={model_id}"] if model_id else []) + (["people=0"] if args.no_people else []) + \
        ([f"match={args.match:g}"] if args.match is not None else [])
    return "?" + "&".join(params) if params else ""


def shard_slice(items: list, k: int, n: int) -> list:
    """The K-th (1-based) of N contiguous slices, sizes differing by one at most: shards in order
    cover the list in order, so people are numbered as one run numbers them."""
    return items[(k - 1) * len(items) // n: k * len(items) // n]


def join(shards: list[dict], match: float) -> list[dict]:
    """Run-wide people for shards in order (one shard: a single run). Each shard: ``exports``
    (its files' JSON, in order), ``descriptors`` ({person id: mean descriptor}) and ``named``
    ({person id: name}: its reference people). Each shard's people, reference people first, then
    by first appearance, are matched to the people of the shards before it by descriptor (the
    page's rule, moodlens.people) or numbered anew; the exports are rewritten with those ids
    and names. Returns [{"id", "name", "descriptor"}] of the run's people, in id order."""
    from moodlens.people import People

    joined = People(threshold=match)
    for shard in shards:
        firsts: dict[int, tuple] = {}
        names = {int(k): v for k, v in shard.get("named", {}).items()}
        for index, data in enumerate(shard["exports"]):
            for p in data["metadata"].get("people", []):
                firsts[p["id"]] = min(firsts.get(p["id"], (index, p["first_s"])), (index, p["first_s"]))
                names[p["id"]] = names.get(p["id"]) or p.get("name", "")
        descriptors = {int(k): v for k, v in shard.get("descriptors", {}).items()}
        references = {int(k) for k in shard.get("named", {})}
        order = sorted(set(firsts) | references, key=lambda pid: (pid not in references, firsts.get(pid, (-1, 0.0)), pid))
        mapping: dict[int, int] = {}
        for pid in order:
            person = joined.adopt(descriptors.get(pid), names.get(pid, ""), exclude=set(mapping.values()))
            mapping[pid] = person.id
        shard["mapping"] = mapping
        for data in shard["exports"]:
            _renumber(data, mapping, joined)
    return [{"id": p.id, "name": p.name, "descriptor": [round(float(v), 6) for v in p.mean()] if p.views else None}
            for p in sorted(joined.people.values(), key=lambda p: p.id)]


def _renumber(data: dict, mapping: dict[int, int], joined) -> None:
    for row in data["rows"]:
        if row.get("person_id") is not None:
            row["person_id"] = mapping[row["person_id"]]
    meta = data["metadata"]
    for p in meta.get("people", []):
        p["id"] = mapping[p["id"]]
        p["name"] = joined.people[p["id"]].name
    meta["people"] = sorted(meta.get("people", []), key=lambda p: p["id"])
    summary = data["summary"]
    if "people" in summary:
        summary["people"] = {str(mapping[int(k)]): v | {"name": joined.people[mapping[int(k)]].name}
                             for k, v in sorted(summary["people"].items(), key=lambda kv: mapping[int(kv[0])])}


def write_files(data: dict, out: Path) -> str:
    """A video's JSON, CSV and chart into ``out``; the stem used."""
    stem = Path(data["metadata"]["file"]).stem
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1))
    (out / f"{stem}.csv").write_text(Timeline.from_json(data).csv())
    chart(data, out / f"{stem}-timeline.png")
    return stem


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


# How valence and arousal are drawn over a lane's stacked probabilities (the page's chart alike).
EXTRA_STYLE = {"valence": {"color": "white", "linewidth": 1.6},
               "arousal": {"color": "#111217", "linewidth": 1.2, "linestyle": "--"}}


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
        if timeline.extras:  # valence and arousal, where the model gives them, on their own scale
            twin = ax.twinx()
            twin.set_ylim(-1.05, 1.05)
            twin.set_yticks([-1, 0, 1])
            twin.tick_params(labelsize="x-small")
            extra = timeline.extra_values[mine]
            for k, name in enumerate(timeline.extras):
                for segment_t, segment_v in zip(np.split(times, breaks), np.split(extra[:, k], breaks)):
                    twin.plot(segment_t, segment_v, **EXTRA_STYLE.get(name, {}), label=name)
    axes[-1, 0].set_xlabel("seconds")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in palette]
    handles += [plt.Line2D([0], [0], **EXTRA_STYLE.get(name, {})) for name in timeline.extras]
    names = labels + [f"{name} (right axis, -1…1)" for name in timeline.extras]
    fig.suptitle(f"{data['metadata']['file']}: emotions per person over time (Moodlens)", fontsize="medium")
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=min(len(names), 8),
               frameon=False, fontsize="small")
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
    if args.merge:
        return merge(args.merge, args.out, args.include_descriptors)
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
    _, model_folder = model_choice.split(args.model)
    if model_folder is not None:
        try:
            model_choice.folder_files(model_folder)
        except model_choice.ModelChoiceError as exc:
            print(exc, file=sys.stderr)
            return 2
        args.model = str(model_folder.resolve())  # the same folder for --jobs' pages, whatever their folder
    if not (DIST / "index.html").exists():
        build()
    if args.jobs > 1 and len(args.videos) > 1:
        return run_jobs(args)
    args.out.mkdir(parents=True, exist_ok=True)
    videos = shard_slice(args.videos, *args.shard) if args.shard else args.videos
    site = engines.TestSite(DIST, [], extra=args.references)
    engine = engines.launch("chromium")
    ok = True
    try:
        page = engine.open(f"{site.base}index.html{query(args)}", camera="none")
        state = page.wait(f"['ready', 'error'].includes({engines.STATE}) && {engines.STATE}", 180)
        if state == "error" and page.run("return !window.moodlensVideoExport"):
            print(f"Moodlens did not start: {page.status()}", file=sys.stderr)
            return 1
        if model_folder is not None:
            try:
                manifest = model_choice.use_folder(page, model_folder)
            except model_choice.ModelChoiceError as exc:
                print(exc, file=sys.stderr)
                return 2
            print(f"model: {manifest.name} ({model_folder})", flush=True)
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
        for video in videos:
            print(f"{video.name}…", flush=True)
            went, line, data = analyse_one(page, video.resolve(), args.out, args.timeout)
            ok &= went
            print(("  " if went else "  FAILED ") + line, flush=True)
            if data is not None:
                exports.append(data)
        descriptors = {} if args.no_people else json.loads(
            page.run_async("return await window.moodlensPeopleDescriptors()"))
    finally:
        engine.close()
        site.close()
    if not args.no_people:
        shard = {"exports": exports, "descriptors": descriptors, "named": named}
        people = join([shard], args.match if args.match is not None else THRESHOLD)
        for data in exports:  # again, with the run's person ids (numbered by first appearance)
            write_files(data, args.out)
        references = {shard["mapping"][pid]: name for pid, name in named.items()}
        finish_people(exports, people, references, args.out, args.include_descriptors)
        if args.shard:
            k, n = args.shard
            (args.out / "shard.json").write_text(json.dumps({
                "shard": k, "of": n, "files": [v.name for v in videos], "match": people_match(args),
                "named": references, "descriptors": {p["id"]: p["descriptor"] for p in people if p["descriptor"]}}))
            print(f"shard {k}/{n}: {len(videos)} file(s); shard.json holds the people's face descriptors for "
                  "--merge (biometric data: delete it once merged)")
    print("all files went through" if ok else "some files did not go through (see above)")
    return 0 if ok else 1


def people_match(args) -> float:
    return args.match if args.match is not None else THRESHOLD


def finish_people(exports: list[dict], people: list[dict], references: dict, out: Path, descriptors: bool) -> None:
    data = people_json(exports, references, {str(p["id"]): p["descriptor"] for p in people} if descriptors else None)
    (out / "people.json").write_text(json.dumps(data, indent=1))
    print(f"{len(data['people'])} person(s) across {len(exports)} file(s) -> people.json"
          + (" (with face descriptors, as asked)" if descriptors else ""))


def merge(folders: list[Path], out: Path, descriptors: bool, remind: bool = True) -> int:
    """Join shards' folders (``--shard K/N``, all N) into ``out``: the files one run writes."""
    shards = []
    for folder in folders:
        try:
            info = json.loads((folder / "shard.json").read_text())
        except (OSError, ValueError):
            print(f"--merge {folder}: not a shard's folder (no readable shard.json; analyse --shard K/N "
                  "writes one, with people on)", file=sys.stderr)
            return 2
        info["folder"] = folder
        shards.append(info)
    counts = {s["of"] for s in shards}
    got = sorted(s["shard"] for s in shards)
    if len(counts) != 1 or got != list(range(1, next(iter(counts)) + 1)):
        given = ", ".join(f"{s['shard']}/{s['of']}" for s in shards)
        print(f"--merge: shards {given} given; every shard K/N of one split is needed, once each", file=sys.stderr)
        return 2
    if len({s["match"] for s in shards}) != 1:
        print("--merge: the shards were analysed with different --match values", file=sys.stderr)
        return 2
    shards.sort(key=lambda s: s["shard"])
    for info in shards:
        try:
            info["exports"] = [json.loads((info["folder"] / f"{Path(name).stem}.json").read_text())
                               for name in info["files"]]
        except (OSError, ValueError) as exc:
            print(f"--merge {info['folder']}: a file of the shard is missing or damaged ({exc})", file=sys.stderr)
            return 2
    people = join(shards, shards[0]["match"])
    out.mkdir(parents=True, exist_ok=True)
    exports = [data for info in shards for data in info["exports"]]
    for data in exports:
        write_files(data, out)
    references = {info["mapping"][int(pid)]: name for info in shards for pid, name in info.get("named", {}).items()}
    finish_people(exports, people, references, out, descriptors)
    print(f"merged {len(shards)} shard(s), {len(exports)} file(s) -> {out}" + (
        "; the shards' shard.json files hold face descriptors: delete them if you no longer need them" if remind
        else ""))
    return 0


def run_jobs(args) -> int:
    """``--jobs N``: N shards at once, each its own browser, then merged into ``--out``; the
    shards' folders (with their descriptors) are deleted after."""
    import shutil
    import subprocess
    import tempfile

    n = min(args.jobs, len(args.videos))
    options = [f"--timeout={args.timeout:g}"] + ([f"--model={args.model}"] if args.model else []) + \
        ([f"--fps={args.fps:g}"] if args.fps else [f"--every={args.every}"]) + \
        (["--no-people"] if args.no_people else []) + ([f"--match={args.match:g}"] if args.match is not None else []) + \
        ([f"--people={args.references}"] if args.references else [])
    work = Path(tempfile.mkdtemp(prefix="moodlens-jobs-"))
    try:
        folders = [work / str(k) for k in range(1, n + 1)]
        jobs = [subprocess.Popen([sys.executable, "-m", "moodlens_tools.analyse", *map(str, args.videos),
                                  "--shard", f"{k}/{n}", "--out", str(folder), *options],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for k, folder in enumerate(folders, 1)]
        codes = []
        for k, job in enumerate(jobs, 1):
            output, _ = job.communicate()
            codes.append(job.returncode)
            for line in output.splitlines():
                if "shard.json holds" not in line:
                    print(f"[{k}/{n}] {line}", flush=True)
        if args.no_people:
            args.out.mkdir(parents=True, exist_ok=True)
            for folder in folders:
                for file in folder.iterdir():
                    shutil.copy2(file, args.out / file.name)
            status = 0
        else:
            present = [f for f in folders if (f / "shard.json").exists()]
            if len(present) != n:
                print(f"{n - len(present)} job(s) wrote nothing to join; nothing merged", file=sys.stderr)
                return 1
            status = merge(present, args.out, args.include_descriptors, remind=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the shards' descriptors go with them
    worst = max(codes + [status])
    print("all files went through" if worst == 0 else "some files did not go through (see above)")
    return 0 if worst == 0 else (1 if worst == 1 else worst)


if __name__ == "__main__":
    sys.exit(main())
