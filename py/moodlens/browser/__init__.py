"""The one folder that touches the browser. ``_compat`` comes first: it decides whether
Pyodide's browser modules are here, or plain CPython's stand-ins (the unit tests)."""

from . import _compat  # noqa: F401
