"""Build-time bytecode (py/moodlens_build/bytecode.py), compiled by Pyodide's own Python under
Node.js: the layouts the page imports from, the stdlib omissions, docstrings emptied."""

from __future__ import annotations

import shutil
import struct
import zipfile

import pytest

from moodlens_build import bytecode
from moodlens_build.paths import NODE

PYODIDE = NODE / "pyodide"
MAGIC_312 = b"\xcb\r\r\n"  # importlib.util.MAGIC_NUMBER of CPython 3.12 (Pyodide 0.27.7)

MODULE = b'''"""A module docstring long enough to notice in the bytes."""
def f(x):
    """A function docstring long enough to notice in the bytes."""
    assert x > 0, "an assert message kept unless optimised"
    return "a plain string constant"
add_newdoc("numpy", "thing", """A numpy add_newdoc text long enough to be emptied by the pass.""")
'''


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    if shutil.which("node") is None or not (PYODIDE / "pyodide.mjs").exists():
        pytest.fail("node and node_modules/pyodide are needed: run `python3 build.py test`")
    folder = tmp_path_factory.mktemp("pyc")
    src = folder / "in.zip"
    with zipfile.ZipFile(src, "w") as z:
        for name in ("pkg/__init__.py", "pkg/mod.py", "encodings/cp850.py", "encodings/cp437.py", "gone/x.py"):
            z.writestr(name, MODULE)
        z.writestr("pkg/data.txt", "kept as is")
    jobs = [{"src": src, "name": "sourceless.zip", "mode": "sourceless", "where": "/lib/", "optimize": 2,
             "omit": ["gone/", "encodings/cp*.py", "!encodings/cp437.py"]},
            {"src": src, "name": "cached.zip", "mode": "cached", "where": "/home/", "docs": "empty"}]
    outs = bytecode.compile_archives(jobs, PYODIDE, folder / "cache")
    again = bytecode.compile_archives(jobs, PYODIDE, folder / "cache")  # the second time: from the cache
    assert again == outs
    return {p.name: zipfile.ZipFile(p) for p in outs}


def test_sourceless_replaces_each_module_with_its_bytecode_and_omits_what_is_listed(compiled):
    z = compiled["sourceless.zip"]
    names = set(z.namelist())
    assert names == {"pkg/__init__.pyc", "pkg/mod.pyc", "encodings/cp437.pyc", "pkg/data.txt"}
    data = z.read("pkg/mod.pyc")
    assert data[:4] == MAGIC_312
    assert struct.unpack("<I", data[4:8])[0] == 0  # timestamp-based, read without a source
    assert b"docstring long enough" not in data  # optimize=2: no docstrings ...
    assert b"assert message" not in data  # ... and no asserts
    assert b"a plain string constant" in data


def test_cached_keeps_sources_and_adds_unchecked_hash_bytecode_with_empty_docstrings(compiled):
    z = compiled["cached.zip"]
    assert z.read("pkg/mod.py") == MODULE
    data = z.read("pkg/__pycache__/mod.cpython-312.pyc")
    assert data[:4] == MAGIC_312
    assert struct.unpack("<I", data[4:8])[0] == 0b01  # hash-based, source not checked (PEP 552)
    assert b"docstring long enough" not in data and b"add_newdoc text" not in data
    assert b"assert message" in data and b"a plain string constant" in data
