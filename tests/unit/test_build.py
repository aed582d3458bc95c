"""The build refuses files whose hashes do not match, naming the file and both hashes; what it
reads from pinned packages it reads exactly (no node_modules, no dist/ here: a fake of each)."""

import json
import zipfile

import pytest

from moodlens import manifest
from moodlens_build import deps, model_files, paths, site, wheels
from moodlens_build.paths import ROOT
from moodlens_build.steps import BuildError, sha256


@pytest.fixture
def fake_node(tmp_path, monkeypatch):
    node = tmp_path / "node_modules"
    for module in (paths, deps, wheels, model_files, site):  # each step module imported the paths
        for name, value in (("NODE", node), ("CACHE", tmp_path / "cache")):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)
    return node


def test_a_model_file_with_the_wrong_hash_stops_the_build(fake_node, tmp_path):
    m = manifest.load(ROOT / "models" / "oarriaga-emotion" / "manifest.json")
    package = fake_node / m.source.package
    (package / "models").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"version": m.source.version}))
    for f in m.source.files:
        (package / f.path).write_bytes(b"not the model")
    with pytest.raises(BuildError) as err:
        model_files.copy_model(m, tmp_path / "out")
    message = str(err.value)
    assert "models/emotion.json" in message
    assert sha256(package / "models" / "emotion.json") in message and m.source.files[0].sha256 in message


def test_a_model_from_another_package_version_stops_the_build(fake_node, tmp_path):
    m = manifest.load(ROOT / "models" / "oarriaga-emotion" / "manifest.json")
    (fake_node / m.source.package).mkdir(parents=True)
    (fake_node / m.source.package / "package.json").write_text(json.dumps({"version": "0.0.1"}))
    with pytest.raises(BuildError, match="0.0.1"):
        model_files.copy_model(m, tmp_path / "out")


def test_a_pyodide_wheel_with_the_wrong_hash_stops_the_build(fake_node, tmp_path, monkeypatch):
    (fake_node / "pyodide").mkdir(parents=True)
    lock = {"packages": {"numpy": {"file_name": "numpy-2.0.2-x.whl", "sha256": "a" * 64}}}
    (fake_node / "pyodide" / "pyodide-lock.json").write_text(json.dumps(lock))
    source = tmp_path / "source.whl"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("assets/numpy-2.0.2-x.whl", b"tampered")
    monkeypatch.setattr(wheels, "_download_wheel_source", lambda requirement: source)
    conf = {"pyodide-packages": ["numpy"], "pyodide-wheels-source": "x==1", "pyodide-wheels-dir": "assets/"}
    with pytest.raises(BuildError) as err:
        wheels.pyodide_wheels(conf)
    message = str(err.value)
    assert "numpy-2.0.2-x.whl" in message and "a" * 64 in message
    # The tampered copy is removed so the next build extracts it again.
    assert not (tmp_path / "cache" / "wheels" / "numpy-2.0.2-x.whl").exists()


def test_a_slim_wheel_drops_what_the_list_names_and_its_record_lines(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    files = {"pkg/__init__.py": b"x = 1\n", "pkg/core.pyi": b"x: int\n", "pkg/random/__init__.py": b"",
             "pkg/randomness.py": b"", "pkg-1.0.dist-info/RECORD": b"pkg/__init__.py,sha256=a,6\n"
             b"pkg/core.pyi,sha256=b,7\npkg/random/__init__.py,sha256=c,0\npkg/randomness.py,sha256=d,0\n"}
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    out = wheels.slim_wheel(wheel, ["pkg/random/", "*.pyi"], tmp_path / "slim")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["pkg-1.0.dist-info/RECORD", "pkg/__init__.py", "pkg/randomness.py"]
        assert z.read("pkg-1.0.dist-info/RECORD").decode().splitlines() == [
            "pkg/__init__.py,sha256=a,6", "pkg/randomness.py,sha256=d,0"]
    # Same input, same bytes: the lock file's sha256 does not change between builds.
    again = wheels.slim_wheel(wheel, ["pkg/random/", "*.pyi"], tmp_path / "slim2")
    assert again.read_bytes() == out.read_bytes()


def test_netlify_builds_with_the_readme_command_and_sends_the_site_headers():
    import tomllib

    config = tomllib.loads((ROOT / "netlify.toml").read_text())
    assert (config["build"]["command"], config["build"]["publish"]) == ("python3 build.py", "dist")
    assert config["build"]["environment"]["PYTHON_VERSION"] >= "3.11"
    [rule] = config["headers"]
    assert rule["for"] == "/*" and rule["values"] == site.site_headers()


def test_the_pages_workflow_builds_and_deploys_dist():
    text = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "run: python3 build.py" in text and "path: dist" in text and "actions/deploy-pages" in text


def test_every_module_of_the_package_compiles():
    """The browser modules cannot be imported here (they need Pyodide's `js`), but a syntax error
    in one would only show in the page: compile them all."""
    for path in sorted((ROOT / "py").rglob("*.py")):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_package_zip_holds_every_module_of_the_package(tmp_path):
    """No list of modules to leave out: everything in py/moodlens ships."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "notes.txt"):
        (tmp_path / "pkg" / name).write_text(f"# {name}\n")
    site.zip_package(tmp_path / "pkg", tmp_path / "pkg.zip")
    with zipfile.ZipFile(tmp_path / "pkg.zip") as z:
        assert sorted(z.namelist()) == ["pkg/__init__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py"]


def test_the_first_paint_waits_for_an_element_the_page_has_in_its_first_screen():
    """index.html's <link rel=expect>: an id that is not in the page would hold back Chromium's
    first paint until the whole document is parsed; one in a later section would paint it later."""
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.expect, self.in_body, self.ids, self.later = None, False, [], set()

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "link" and a.get("rel") == "expect":
                assert not self.in_body, "a <link rel=expect> in the body has no effect"
                assert a.get("blocking") == "render"
                self.expect = a["href"].removeprefix("#")
            self.in_body = self.in_body or tag == "body"
            if "id" in a:
                self.ids.append(a["id"])
            if "data-later" in a:  # the sections boot.js shows after the first paint
                self.later.add(len(self.ids))

    page = Page()
    page.feed((ROOT / "site" / "index.html").read_text())
    assert page.expect in page.ids
    position = page.ids.index(page.expect)
    assert page.later and all(mark > position for mark in page.later)  # in the first screen, before them
