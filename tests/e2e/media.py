"""Test media made from real photos: y4m videos for Chromium's fake camera.

Chromium's ``--use-file-for-fake-video-capture`` plays a YUV4MPEG2 file in a loop; it must be
4:2:0 (``C420jpeg``: full-range BT.601, chroma sited between pixels) with a short header.
The photos are the demo pictures shipped in the npm package ``@vladmandic/face-api``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from moodlens_build.paths import NODE, ROOT  # noqa: F401 (ROOT: the tests read media.ROOT)

SAMPLES = NODE / "@vladmandic" / "face-api" / "demo"
WIDTH, HEIGHT = 640, 480


def photo(name: str, crop: tuple[int, int, int, int] | None = None, size=(WIDTH, HEIGHT)) -> Image.Image:
    """A sample photo, cropped (left, top, right, bottom in the photo's pixels) and resized."""
    image = Image.open(SAMPLES / name).convert("RGB")
    if crop:
        image = image.crop(crop)
    return image.resize(size, Image.Resampling.LANCZOS)


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 30) -> Path:
    """Write RGB frames as a 4:2:0 y4m file (chroma averaged over each 2x2 block)."""
    w, h = frames[0].size
    assert w % 2 == 0 and h % 2 == 0, "4:2:0 needs even dimensions"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            ycc = np.asarray(frame.convert("YCbCr"), dtype=np.float32)
            chroma = ycc[:, :, 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
            fh.write(b"FRAME\n")
            fh.write(ycc[:, :, 0].round().astype(np.uint8).tobytes())
            fh.write(chroma[:, :, 0].round().astype(np.uint8).tobytes())
            fh.write(chroma[:, :, 1].round().astype(np.uint8).tobytes())
    return path


# A smiling face, tilted, right of centre: sample1.jpg cropped to 800x600 and shown at 640x480.
# The face box was read off the picture by eye (forehead to chin, ear to ear) in video pixels.
ONE_FACE_CROP = (1100, 80, 1900, 680)
ONE_FACE_BOX = (288, 104, 184, 184)  # x, y, w, h
# A staircase and railings, no face: sample5.jpg.
NO_FACE_CROP = (0, 300, 560, 720)


def one_face_video(path: Path, fps: int = 30) -> Path:
    return write_y4m(path, [photo("sample1.jpg", ONE_FACE_CROP)] * 10, fps=fps)


def no_face_video(path: Path) -> Path:
    return write_y4m(path, [photo("sample5.jpg", NO_FACE_CROP)] * 10)


# Four people side by side, as a webcam would see a group: sample6.jpg cropped to 1520x1140.
GROUP_CROP = (240, 60, 1760, 1200)
# Centre of each face (between the eyes and the mouth), read off the picture by eye, left to right.
GROUP_FACE_CENTRES = ((45, 235), (215, 175), (435, 160), (570, 140))


def group_video(path: Path, fps: int = 30) -> Path:
    return write_y4m(path, [photo("sample6.jpg", GROUP_CROP)] * 10, fps=fps)


# The two middle people of the group, close up: sample6.jpg cropped to 950x712 (the first person's
# hair at the left edge, no third face).
TWO_FACES_CROP = (510, 40, 1460, 752)


def two_faces_video(path: Path, fps: int = 30) -> Path:
    return write_y4m(path, [photo("sample6.jpg", TWO_FACES_CROP)] * 10, fps=fps)


def coming_and_going_video(path: Path) -> Path:
    """A face for two seconds, then two seconds of no face, looping (15 frames a second)."""
    face, empty = photo("sample1.jpg", ONE_FACE_CROP), photo("sample5.jpg", NO_FACE_CROP)
    return write_y4m(path, [face] * 30 + [empty] * 30, fps=15)


# -- video files (PyAV: FFmpeg's encoders, bundled in the `av` wheel) ---------------------------
def write_video(path: Path, frames: list[Image.Image], codec: str, fps: int = 30) -> Path:
    """Encode RGB frames: "libvpx" (VP8, for .webm), "libx264" (H.264, .mp4), "mpeg4" (MPEG-4
    Part 2, .mp4: a codec no browser's WebCodecs decodes)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


FACE_SECONDS, EMPTY_SECONDS = 2, 1  # the recording: a smiling face, then the staircase with nobody


def face_then_empty(path: Path, codec: str = "libvpx", fps: int = 30, seconds: float | None = None) -> Path:
    """A smiling face for FACE_SECONDS, then EMPTY_SECONDS with no face (repeated to ``seconds``)."""
    face, empty = photo("sample1.jpg", ONE_FACE_CROP), photo("sample5.jpg", NO_FACE_CROP)
    cycle = [face] * (FACE_SECONDS * fps) + [empty] * (EMPTY_SECONDS * fps)
    total = round((seconds or FACE_SECONDS + EMPTY_SECONDS) * fps)
    return write_video(path, (cycle * (total // len(cycle) + 1))[:total], codec, fps)


def group_clip(path: Path, codec: str = "libx264", fps: int = 30, seconds: float = 2.0) -> Path:
    return write_video(path, [photo("sample6.jpg", GROUP_CROP)] * round(seconds * fps), codec, fps)


def big_face_clip(path: Path, size=(3840, 2880), frames: int = 6) -> Path:
    """The one-face picture at 4K width (4:3, so its boxes are ONE_FACE_BOX × 6)."""
    return write_video(path, [photo("sample1.jpg", ONE_FACE_CROP, size=size)] * frames, "libvpx", 30)


# -- people: the same person before and after a gap, and someone else between --------------------
# Person A is the smiling face of ONE_FACE_CROP (sample1.jpg); A_AGAIN shows her closer up, the
# way she would come back nearer the camera. Person B is another woman (sample3.jpg, the left
# face, cropped clear of the others). Boxes read off the pictures by eye.
A_AGAIN_CROP = (1250, 110, 1810, 530)
B_CROP = (300, 175, 990, 693)
GAP_SECONDS = 3


def person(name: str) -> Image.Image:
    crops = {"a": ("sample1.jpg", ONE_FACE_CROP), "a-again": ("sample1.jpg", A_AGAIN_CROP),
             "b": ("sample3.jpg", B_CROP)}
    return photo(*crops[name])


def people_video(path: Path, order=("a", "b", "a-again"), codec: str = "libvpx", fps: int = 15,
                 seconds: float = 2.0, gap: float = GAP_SECONDS) -> Path:
    """Each person of ``order`` for ``seconds``, with ``gap`` seconds of nobody (the staircase)
    between them: longer than the tracker keeps a face (1.5 s), so each comes back a new track."""
    empty = photo("sample5.jpg", NO_FACE_CROP)
    frames: list[Image.Image] = []
    for k, name in enumerate(order):
        if k:
            frames += [empty] * round(gap * fps)
        frames += [person(name)] * round(seconds * fps)
    return write_video(path, frames, codec, fps)


# -- labelled folders for `build.py train`: three people as three labels -------------------------
# Each face's box (x, y, w, h in the sample photo's pixels) as the site's photo mode finds it.
TRAIN_FACES = {"ann": ("sample1.jpg", (1480, 256, 160, 160)),  # person A above
               "bea": ("sample3.jpg", (577, 373, 219, 219)),  # person B above
               "cat": ("sample6.jpg", (1161, 347, 233, 233))}  # the third of the group


def labelled_faces(folder: Path, per_label: int = 24, seed: int = 0, size: int = 96) -> Path:
    """``folder/<name>/NN.png``: face crops of each TRAIN_FACES person, each a little different
    (the crop's size and place, a small turn, brightness), like a folder of FER-2013 crops."""
    rng = np.random.default_rng(seed)
    for label, (name, (x, y, w, h)) in TRAIN_FACES.items():
        source = Image.open(SAMPLES / name).convert("RGB")
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_label):
            side = max(w, h) * rng.uniform(1.1, 1.5)
            cx, cy = x + w / 2 + rng.uniform(-0.08, 0.08) * w, y + h / 2 + rng.uniform(-0.08, 0.08) * h
            turned = source.rotate(rng.uniform(-10, 10), center=(cx, cy), resample=Image.Resampling.BILINEAR)
            crop = turned.crop((round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)))
            pixels = np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
            Image.fromarray(np.clip(pixels * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)).save(
                folder / label / f"{i:02d}.png")
    return folder


def labelled_pictures(folder: Path, per_label: int = 8, seed: int = 0) -> Path:
    """``folder/<name>/NN.jpg``: whole 640×480 pictures with each TRAIN_FACES person somewhere in
    them (for ``train --detect``)."""
    rng = np.random.default_rng(seed)
    for label, (name, (x, y, w, h)) in TRAIN_FACES.items():
        source = Image.open(SAMPLES / name).convert("RGB")
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_label):
            span = max(w, h) * rng.uniform(3.0, 4.0)  # the picture's width, in the photo's pixels
            left = x + w / 2 - span * rng.uniform(0.3, 0.7)
            top = y + h / 2 - span * 0.75 * rng.uniform(0.35, 0.65)
            photo = source.crop((round(left), round(top), round(left + span), round(top + span * 0.75)))
            photo.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS).save(folder / label / f"{i:02d}.jpg", quality=90)
    return folder
