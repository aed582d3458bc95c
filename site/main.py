# Entry point worker.js runs once Pyodide is up, in the worker. The app itself is the moodlens
# package (py/moodlens, shipped as moodlens.zip and unpacked by worker.js); it reaches the page
# through moodlens.browser.remote, page.js's other half.
import js
from pyodide.ffi import to_js

try:
    from moodlens.browser import remote

    document = await remote.start()  # noqa: F704 - worker.js runs this with top-level await
    from moodlens.browser.app import App
except Exception as exc:  # a broken deploy: say so in the page, not only in the console
    js.postMessage(to_js({"fatal": (
        f"Moodlens could not start: {exc}. Reload to try again; if it keeps happening, the site's files are "
        "damaged: tell whoever hosts this page.")}, dict_converter=js.Object.fromEntries))  # the words of every start-up failure (app.py, boot.js)
    raise

app = App(document)
await app.start_up()  # noqa: F704
