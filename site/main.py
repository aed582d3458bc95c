# Entry point PyScript runs once Pyodide is up. The app itself is the moodlens package
# (py/moodlens, shipped as moodlens.zip and unpacked by PyScript's "files" config).
# boot.js's early camera is reached directly here, not through the app's bridge to it
# (moodlens/browser/early_camera.py): before the package is imported, and when it cannot be.
import js

if hasattr(js.window, "moodlensEarly"):
    await js.window.moodlensEarly.hold()  # noqa: F704 - camera first: boot.js says why

try:
    from moodlens.browser.app import App
except Exception as exc:  # a broken deploy: say so in the page, not only in the console
    js.document.body.dataset.state = "error"
    js.document.getElementById("status").textContent = (
        f"Moodlens could not start: {exc}. Reload to try again; if it keeps happening, the site's files are "
        "damaged: tell whoever hosts this page.")  # the words of every start-up failure (app.py, boot.js)
    if hasattr(js.window, "moodlensEarly"):
        js.window.moodlensEarly.fail()  # a camera Start opened is let go: nothing will analyse it
    raise

app = App(js.document)
await app.start_up()  # noqa: F704 - PyScript runs this script with top-level await
