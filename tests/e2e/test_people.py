"""People, not tracks: real faces of different women, each seen, gone for longer than the tracker
keeps a face, and back. The same person gets her person id back; someone else never shares it;
the ids reach `#results`, the timeline, the summary and both exports; a second recording in the
same session, and `build.py analyse` over two files, share the people."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from . import media
from .test_video import analyse, download

FPS = 15


@pytest.fixture(scope="session")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("people")
    return {
        "aba": media.people_video(folder / "interview.webm", ("a", "b", "a-again"), fps=FPS),
        "ba": media.people_video(folder / "second-session.mp4", ("b", "a"), codec="libx264", fps=FPS),
    }


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def persons_by_face(rows) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["face_id"], set()).add(r["person_id"])
    return out


def test_a_person_who_comes_back_after_a_gap_keeps_her_id(open_app, recordings):
    app = open_app("", video=None)
    app.wait_state("ready")
    page = app.page
    result = analyse(app, recordings["aba"])
    assert result["done"] and not result.get("error"), result
    summary = result["summary"]
    assert list(summary["faces"]) == ["1", "2", "3"], "three tracks: each gap is longer than the tracker's 1.5 s"
    people = summary["people"]
    assert sorted(people) == ["1", "2"], people
    assert people["1"]["faces"] == [1, 3] and people["2"]["faces"] == [2], people
    seconds = 2 + media.GAP_SECONDS
    assert people["1"]["first_s"] == 0.0 and people["1"]["last_s"] > 2 * seconds, people["1"]

    rows = rows_of(download(app, "#video-csv").decode())
    assert list(rows[0])[:4] == ["time_s", "frame", "face_id", "person_id"]
    assert persons_by_face(rows) == {"1": {"1"}, "2": {"2"}, "3": {"1"}}
    data = json.loads(download(app, "#video-json"))
    assert [(p["id"], p["faces"]) for p in data["metadata"]["people"]] == [(1, [1, 3]), (2, [2])]
    assert {r["person_id"] for r in data["rows"] if r["face_id"] == 3} == {1}
    assert all("descriptor" not in json.dumps(p) for p in data["metadata"]["people"]), "descriptors stay in the page"

    # One lane and one summary row per person, named so.
    assert [t.strip() for t in page.locator("#video-summary th[scope=row]").all_text_contents()] == \
        ["Person 1", "Person 2"]
    page.focus("#video-timeline")
    page.keyboard.press("End")
    page.wait_for_function("() => document.getElementById('video-readout').textContent.includes('Person 1')")

    # Naming: the person picked, a name typed, Enter; the table, the lanes and the JSON say it.
    assert page.is_visible("#video-naming")
    page.select_option("#video-person", "1")
    page.fill("#video-person-name", "  Alice  ")
    page.press("#video-person-name", "Enter")
    page.wait_for_function("() => document.getElementById('video-summary').textContent.includes('Alice')")
    page.wait_for_function("() => document.getElementById('video-readout').textContent.includes('Alice: happy')")
    assert [t.strip() for t in page.locator("#video-summary th[scope=row]").all_text_contents()] == \
        ["Alice", "Person 2"]
    assert [o.strip() for o in page.locator("#video-person option").all_text_contents()] == ["Alice", "Person 2"]
    named = json.loads(download(app, "#video-json"))
    assert [(p["id"], p["name"]) for p in named["metadata"]["people"]] == [(1, "Alice"), (2, "")]
    assert persons_by_face(rows_of(download(app, "#video-csv").decode())) == {"1": {"1"}, "2": {"2"}, "3": {"1"}}
    page.evaluate("document.getElementById('video-section').scrollIntoView()")
    app.screenshot("people-video.png")


def test_a_second_recording_in_the_same_session_shares_the_people(open_app, recordings):
    app = open_app("", video=None)
    app.wait_state("ready")
    analyse(app, recordings["aba"])
    result = analyse(app, recordings["ba"])
    people = result["summary"]["people"]
    # The second file shows B first, then A: they keep the ids the first file gave them.
    assert people["2"]["faces"] == [1] and people["1"]["faces"] == [2], people
    rows = rows_of(download(app, "#video-csv").decode())
    assert persons_by_face(rows) == {"1": {"2"}, "2": {"1"}}


def test_live_a_person_who_leaves_the_view_comes_back_as_herself(open_app):
    # The camera shows a face for 2 s, then 2 s of nobody, in a loop: each return is a new track.
    app = open_app("?autostart=1", video="coming_and_going")
    app.wait_state("running")
    first = app.wait_result("r.faces && r.faces.length === 1 && r.faces[0].person_id !== null", 60)
    face = first["faces"][0]
    assert face["person"] == f"Person {face['person_id']}"
    back = app.wait_result(f"r.faces && r.faces.length === 1 && r.faces[0].id > {face['id']} "
                           "&& r.faces[0].person_id !== null", 60)
    assert back["faces"][0]["person_id"] == face["person_id"], (face, back["faces"][0])
    app.screenshot("people-live.png")


def test_with_people_off_no_descriptor_model_is_fetched(open_app, recordings):
    app = open_app("?people=0", video=None)
    app.wait_state("ready")
    result = analyse(app, recordings["aba"])
    assert "people" not in result["summary"] and len(result["summary"]["faces"]) == 3
    assert not [u for u in app.requests + app.worker_requests if "/models/faceres/" in u]
    rows = rows_of(download(app, "#video-csv").decode())
    assert {r["person_id"] for r in rows} == {""}


def test_a_descriptor_model_that_fails_leaves_emotions_going_and_says_so(open_app, recordings):
    # The descriptor model loads after the start, when the service worker may already answer the
    # page's worker, with its own fetch that the route never sees (a busy clean-clone run got the
    # real model that way): without a service worker, the damaged file is what the app gets.
    app = open_app("", video=None, service_workers="block",
                   routes=[("**/models/faceres/faceres.bin", lambda route: route.fulfill(status=200, body=b"\0" * 1000))])
    app.wait_state("ready")
    result = analyse(app, recordings["aba"])
    assert result["frames_analysed"] > 0 and len(result["summary"]["faces"]) == 3
    assert "people" not in result["summary"]
    notes = app.page.text_content("#notes")
    assert "People are not available" in notes and "faceres.bin" in notes, notes


def test_build_py_analyse_shares_people_across_files_and_writes_people_json(recordings, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", str(recordings["aba"]),
                           str(recordings["ba"]), "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=media.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    first = persons_by_face(rows_of((out / "interview.csv").read_text()))
    second = persons_by_face(rows_of((out / "second-session.csv").read_text()))
    assert first == {"1": {"1"}, "2": {"2"}, "3": {"1"}} and second == {"1": {"2"}, "2": {"1"}}
    people = json.loads((out / "people.json").read_text())
    assert [p["id"] for p in people["people"]] == [1, 2]
    alice = people["people"][0]
    assert [s["file"] for s in alice["seen"]] == ["interview.webm", "second-session.mp4"]
    assert "descriptor" not in (out / "people.json").read_text()


def reference_folder(root, people: dict) -> object:
    """DIR/<name>/<k>.jpg for each name: its pictures."""
    for name, pictures in people.items():
        (root / name).mkdir(parents=True)
        for k, picture in enumerate(pictures):
            picture.save(root / name / f"{k}.jpg", quality=92)
    return root


def test_analyse_people_dir_names_them_from_the_start_and_refuses_bad_references(recordings, tmp_path):
    refs = reference_folder(tmp_path / "people", {
        "Alice": [media.person("a-again")],
        "Bea": [media.person("b")],
        "Group": [media.photo("sample6.jpg", media.GROUP_CROP)],  # four faces: not a reference
        "Nobody": [media.photo("sample5.jpg", media.NO_FACE_CROP)],  # no face at all
    })
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", str(recordings["aba"]), "--people",
                           str(refs), "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=media.ROOT)
    assert done.returncode == 1, done.stdout + done.stderr  # the run went on, but not everything it was given
    assert "FAILED --people Group: 0.jpg: 4 faces" in done.stdout, done.stdout
    assert "FAILED --people Nobody: 0.jpg: no face found" in done.stdout, done.stdout
    people = json.loads((out / "people.json").read_text())["people"]
    assert [(p["id"], p["name"]) for p in people] == [(1, "Alice"), (2, "Bea")]
    assert [s["face_ids"] for s in people[0]["seen"]] == [[1, 3]] and [s["face_ids"] for s in people[1]["seen"]] == [[2]]
    assert persons_by_face(rows_of((out / "interview.csv").read_text())) == {"1": {"1"}, "2": {"2"}, "3": {"1"}}
    data = json.loads((out / "interview.json").read_text())
    assert [(p["id"], p["name"]) for p in data["metadata"]["people"]] == [(1, "Alice"), (2, "Bea")]
    assert "descriptor" not in (out / "people.json").read_text()


def test_analyse_writes_descriptors_only_when_asked(recordings, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", str(recordings["ba"]),
                           "--include-descriptors", "--out", str(out)], capture_output=True, text=True, timeout=600,
                          cwd=media.ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    people = json.loads((out / "people.json").read_text())["people"]
    assert len(people) == 2 and all(len(p["descriptor"]) == 1024 for p in people)
    a, b = (np.asarray(p["descriptor"]) for p in people)
    assert 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.32, "two women, far apart"
    for stem in ("second-session",):
        assert "descriptor" not in (out / f"{stem}.json").read_text()


def test_analyse_people_dir_that_is_not_one_is_refused_before_anything_runs(recordings, tmp_path):
    empty = tmp_path / "refs"
    (empty / "Alice").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", str(recordings["aba"]), "--people",
                           str(empty), "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          cwd=media.ROOT)
    assert done.returncode == 2 and "Alice/ has no pictures" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def run_analyse(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "moodlens_tools.analyse", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=media.ROOT)


def outputs(folder) -> dict:
    """What a run wrote that must not depend on how it was split: the CSVs and the people."""
    people = json.loads((folder / "people.json").read_text())
    return {"csv": {p.name: p.read_text() for p in sorted(folder.glob("*.csv"))}, "people": people}


def test_jobs_and_shards_give_the_people_and_rows_of_one_run(recordings, tmp_path):
    files = [recordings["aba"], recordings["ba"]]
    one = run_analyse(*files, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stdout + one.stderr
    jobs = run_analyse(*files, "--jobs", "2", "--out", tmp_path / "jobs")
    assert jobs.returncode == 0, jobs.stdout + jobs.stderr
    assert "[1/2]" in jobs.stdout and "[2/2]" in jobs.stdout and "merged 2 shard(s)" in jobs.stdout, jobs.stdout
    for k in (1, 2):
        shard = run_analyse(*files, "--shard", f"{k}/2", "--out", tmp_path / f"shard{k}")
        assert shard.returncode == 0, shard.stdout + shard.stderr
    assert "descriptor" in (tmp_path / "shard2" / "shard.json").read_text()
    assert [p["id"] for p in json.loads((tmp_path / "shard2" / "people.json").read_text())["people"]] == [1, 2], \
        "the shard alone numbers its own people: B first there"
    merged = run_analyse("--merge", tmp_path / "shard2", tmp_path / "shard1", "--out", tmp_path / "merged")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    expected = outputs(tmp_path / "one")
    assert persons_by_face(rows_of(expected["csv"]["second-session.csv"])) == {"1": {"2"}, "2": {"1"}}
    assert outputs(tmp_path / "jobs") == expected
    assert outputs(tmp_path / "merged") == expected
    assert not list((tmp_path / "jobs").glob("shard.json")), "the jobs' descriptors are not left behind"
    # A merge with a shard missing is refused, saying what is needed.
    partial = run_analyse("--merge", tmp_path / "shard1", "--out", tmp_path / "partial")
    assert partial.returncode == 2 and "every shard K/N of one split is needed" in partial.stderr, partial.stderr


def test_pictures_in_one_batch_share_people(open_app, tmp_path):
    from .test_photos import photos

    files = []
    for name in ("a", "b", "a-again"):
        media.person(name).save(tmp_path / f"{name}.jpg", quality=92)
        files.append(tmp_path / f"{name}.jpg")
    app = open_app("", video=None)
    app.wait_state("ready")
    entries = photos(app, files)
    ids = [[f["person_id"] for f in e["faces"]] for e in entries]
    assert ids == [[1], [2], [1]], ids
    assert entries[2]["faces"][0]["person"] == "Person 1"
