"""Moodlens: facial emotion recognition whose logic is Python, running in the browser.

The data flow, one module per stage (``pipeline.py`` strings them together)::

    camera frame -> detect -> preprocess -> classify (TF.js) -> track -> present -> render

This package is what ships to the browser (build.py zips all of it), and nothing else: the
build (``moodlens_build``) and the CPython tools (``moodlens_tools``: the converter, evaluate,
analyse, the headless-browser drivers) import from it, never the other way round.
``config`` and ``manifest`` need only the standard library (the build uses them);
``detect``, ``preprocess``, ``track``, ``present`` and ``pipeline`` need NumPy and run under
plain CPython for tests. Everything that touches ``js`` or ``pyodide`` lives in
``moodlens.browser``. This package imports none of them eagerly: in the page, NumPy is
loaded while the models download, after this package is imported.
"""

__version__ = "0.1.0"
