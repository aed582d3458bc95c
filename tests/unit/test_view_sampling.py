"""The camera's picture is sampled nearest-neighbour only while it is shown at exactly its own size
(browser/view.py, class ``exact``): there it draws the same pixels as smoothing and spares a
compositor without a GPU filtering the mirrored picture on every frame; scaled, smoothing stays."""

from __future__ import annotations

import pytest

from moodlens.browser._compat import js
from moodlens.browser.view import View, shown_at_own_size

from .fakejs import install_page


@pytest.mark.parametrize(("frame", "box", "ratio", "exact"), [
    ((640, 480), (640, 480), 1.0, True),
    ((640, 480), (320, 240), 2.0, True),      # a 2× screen: 320 CSS pixels are 640 of the screen's
    ((640, 480), (800, 480), 1.0, True),      # wider box, letterboxed: the height fits exactly
    ((640, 480), (640, 480), 2.0, False),     # enlarged on a 2× screen
    ((640, 480), (757, 568), 1.0, False),     # enlarged
    ((640, 480), (639.5, 479.6), 1.0, False),  # a fraction smaller
    ((640, 480), (640, 480), 1.25, False),    # zoomed in
    ((0, 0), (640, 480), 1.0, False),         # no frame yet
    ((640, 480), (0, 0), 1.0, False),         # not laid out
])
def test_shown_at_own_size(frame, box, ratio, exact):
    assert shown_at_own_size(*frame, *box, ratio) is exact


def test_the_view_follows_the_frame_the_box_and_the_pixel_ratio(monkeypatch):
    install_page(monkeypatch)
    doc = js.document
    view = View(doc)
    viewport = doc.getElementById("viewport")
    viewport.resize(640, 480)
    assert not viewport.classList.contains("exact"), "no frame yet"
    view.draw([], 640, 480)
    assert viewport.classList.contains("exact")
    viewport.resize(700, 525)
    assert not viewport.classList.contains("exact"), "enlarged: smoothed"
    doc.defaultView.devicePixelRatio = 2.0
    viewport.resize(320, 240)
    assert viewport.classList.contains("exact"), "on a 2× screen, 320 CSS pixels are its own size"
    view.draw([], 1280, 720)
    assert not viewport.classList.contains("exact"), "a bigger camera picture, shrunk"
