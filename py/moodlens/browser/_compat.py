"""Pyodide's browser modules, or plain CPython's stand-ins for them: the one place that knows which.

In the page (Pyodide), ``js``, ``pyodide_js`` and the ``pyodide.ffi`` functions are Pyodide's
own. Under plain CPython (the unit tests) there is no page: ``_not_in_browser`` gives empty
``js`` and ``pyodide_js`` modules, which a test fills with the few pieces of a page it needs
(tests/unit/fakejs.py), and working CPython versions of the ``pyodide.ffi`` functions. So the
browser layer imports, and its decisions run, under ordinary CPython. (The same split as
micropip's ``_compat``.)

    from ._compat import IN_BROWSER, create_proxy, js
"""

from __future__ import annotations

import sys

IN_BROWSER = "_pyodide_core" in sys.modules  # Pyodide's C core, there from its first line of Python

if IN_BROWSER:
    import js
    import pyodide_js
    from pyodide.ffi import JsException, create_once_callable, create_proxy, to_js
else:
    from ._not_in_browser import JsException, create_once_callable, create_proxy, install, js, pyodide_js, to_js

    install()  # under the browser's names too: _js.py imports them itself (test_js_bridge loads it on its own)

__all__ = ["IN_BROWSER", "JsException", "create_once_callable", "create_proxy", "js", "pyodide_js", "to_js"]
