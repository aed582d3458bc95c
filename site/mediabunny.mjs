// Video mode's container reader, loaded by py/moodlens/browser/sources/video_file.py the first
// time a video is chosen: Mediabunny (MPL-2.0) ships as an ES module only, and Python cannot
// import one without eval, so this module imports it and hands it to Python as window.Mediabunny.
import * as Mediabunny from "./vendor/mediabunny/mediabunny.min.mjs";

window.Mediabunny = Mediabunny;
