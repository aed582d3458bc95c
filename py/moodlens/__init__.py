"""Moodlens: facial emotion recognition whose logic is Python, running in the browser.

The data flow, one module per stage (``pipeline.py`` strings them together)::

    camera frame -> detect -> preprocess -> classify (TF.js) -> track -> present -> render

``config`` and ``manifest`` need only the standard library (``build.py`` uses them);
``detect``, ``preprocess``, ``track``, ``present`` and ``pipeline`` need NumPy and run under
plain CPython for tests. Everything that touches ``js``, ``pyodide`` or ``pyscript`` lives in
``moodlens.browser``. This package imports none of them eagerly: in the page, NumPy is
loaded while the models download, after this package is imported.
"""

__version__ = "0.1.0"
