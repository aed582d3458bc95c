"""What the panel costs the page per result (browser/view.py through browser/remote.py): every
write is an update page.js applies, and the browser lays out and paints, on the page's thread.
A result that reads as the last one sends no update for the bars, the emoji or the caption."""

from __future__ import annotations

import asyncio
import gc
import types

import numpy as np
import pytest

from moodlens import present
from moodlens.browser import remote
from moodlens.browser._compat import js
from moodlens.browser.view import View

from .test_remote import Offscreen

IDS = {"overlay": "canvas", "viewport": "div", "start": "button", "status": "p", "results": "pre", "notes": "ul",
       "emoji": "span", "mood-label": "p", "bars": "ul", "progress": "progress", "announce": "p", "affect": "div"}


@pytest.fixture
def page(monkeypatch):
    monkeypatch.setattr(js, "Object", types.SimpleNamespace(fromEntries=dict), raising=False)
    monkeypatch.setattr(js, "OffscreenCanvas", types.SimpleNamespace(new=Offscreen), raising=False)
    posted = []
    page = remote.Page(post=lambda message, transfer: posted.append(message))
    page.document = remote.Document(page, {"state": "running", "elements": {k: {"tag": t} for k, t in IDS.items()}})
    page.posted = posted
    return page


async def shown(page, view, manifest, scores, frame: int) -> list[list]:
    """The page updates one result sends (the main face with these scores)."""
    face = present.face_view(manifest, 1, (100, 80, 120, 120), np.asarray(scores, np.float32))
    page.posted.clear()
    view.show({"frame": frame}, face, face.caption, frame * 16.7)
    await asyncio.sleep(0)
    return [op for message in page.posted for op in message["ops"]]


def test_a_result_that_reads_as_the_last_sends_only_the_raw_json(page, emotion_manifest):
    happy = emotion_manifest.label_names.index("happy")
    scores = np.full(len(emotion_manifest.labels), 0.01)
    scores[happy] = 1 - 0.01 * (len(scores) - 1)
    # A thousandth of a bar or less (a third of a pixel at most), the same percentages.
    nudged = scores + np.where(np.arange(len(scores)) == happy, -0.0002, 0.0002 / (len(scores) - 1))
    moved = scores.copy()
    moved[happy] -= 0.05
    moved[emotion_manifest.label_names.index("surprise")] += 0.05

    async def run():
        view = View(page.document)
        view.use_labels(emotion_manifest)
        await asyncio.sleep(0)
        out = [await shown(page, view, emotion_manifest, s, n) for n, s in enumerate((scores, nudged, moved), 1)]
        # Every handle let go while the loop runs (each tells page.js to forget it, in a turn).
        del view
        page.document = None
        page.sized.clear()  # the viewport, whose resizes the view follows
        gc.collect()
        await asyncio.sleep(0)
        return out
    first, again, changed = asyncio.run(run())

    assert sum(op[:3] == ["style", op[1], "--p"] for op in first) == len(scores), "every bar"
    assert ["set", "emoji", "textContent", "😄"] in first
    assert any(op[:3] == ["set", "mood-label", "textContent"] for op in first)
    assert [op[:3] for op in again] == [["set", "results", "textContent"]], again
    # A change that shows: the two bars that moved, and the caption; not the emoji.
    assert sum(op[0] == "style" for op in changed) == 2
    assert not any(op[1] == "emoji" for op in changed)
    assert any(op[:3] == ["set", "mood-label", "textContent"] for op in changed)
