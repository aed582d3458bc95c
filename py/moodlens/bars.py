"""The markup of one emotion bar, in one place for its two writers: build.py, which puts the
default model's bars into index.html (laid out from the first paint), and the page
(``browser/view.py``), which makes them for whichever model is in use. Both write the same
markup, so nothing moves when the page replaces the first by the second."""

from __future__ import annotations

from html import escape

BAR = ('<span class="bar-name">{name}</span><span class="bar-track"><span class="bar-fill"></span></span>'
       '<span class="bar-value">0%</span>')


def bar_items(names: list[str]) -> str:
    """The bars as <li> items, for a static page (the page itself sets names as text)."""
    return "".join(f'<li class="bar">{BAR.format(name=escape(name))}</li>' for name in names)
