"""Frame -> model inputs, in NumPy, exactly as a model's manifest says.

Contracts:
- ``face_batch``: (H, W, 4) uint8 RGBA frame + N boxes (x, y, w, h) -> (N, h, w, C) float32,
  each box squared around its centre, widened by the manifest's margin, kept inside the frame,
  converted to the manifest's colour mode, resized and normalized.
- ``detector_input``: (H, W, 4) uint8 RGBA frame -> (1, h, w, C) float32, letterboxed
  (aspect kept, padded bottom/right with black) so faces are not squashed, plus the
  :class:`Letterbox` that maps detector coordinates back to frame pixels.

Normalization: ``(pixel / scale - mean) / std`` per channel. Grayscale uses the ITU-R BT.601
luma weights, which OpenCV's ``cvtColor(RGB2GRAY)`` (used to train the FER-2013 models) uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .manifest import Input

# ITU-R BT.601 luma weights (R, G, B).
BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Maps detector-input pixels back to frame pixels: frame = input * scale."""

    scale: float  # frame pixels per detector-input pixel
    width: int  # frame width
    height: int  # frame height


def shrunk_size(width: int, height: int, max_side: int) -> tuple[float, tuple[int, int]]:
    """The scale and size a picture is analysed at: unchanged when its long side is at most
    ``max_side``, else shrunk to it (photo mode, Pillow's fallback, and training all use this)."""
    if max(width, height) <= max_side:
        return 1.0, (width, height)
    scale = max_side / max(width, height)
    return scale, (max(1, round(width * scale)), max(1, round(height * scale)))


def square_box(box, margin: float, frame_w: int, frame_h: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) -> a square (x, y, s, s) in whole pixels, inside the frame.

    The side is ``max(w, h) * (1 + margin)``, centred on the box. A square that crosses the
    frame edge is shifted back inside rather than cut, so the crop keeps its aspect ratio;
    a square larger than the frame shrinks to the frame's shorter side.
    """
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + margin)
    side = int(round(min(max(side, 1.0), frame_w, frame_h)))
    cx, cy = x + w / 2.0, y + h / 2.0
    left = int(round(cx - side / 2.0))
    top = int(round(cy - side / 2.0))
    left = min(max(left, 0), frame_w - side)
    top = min(max(top, 0), frame_h - side)
    return left, top, side, side


def to_color(pixels: np.ndarray, color: str) -> np.ndarray:
    """(h, w, 3 or 4) RGB(A) -> (h, w, 1) or (h, w, 3) float32 in the pixel's own units (0..255)."""
    rgb = pixels[..., :3].astype(np.float32, copy=False)
    if color == "grayscale":
        return (rgb @ BT601)[..., None]
    return rgb


def resize_bilinear(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """(H, W, C) any dtype -> (out_h, out_w, C) float32, bilinear with half-pixel centres.

    Written by hand because Pyodide's NumPy has no resize and loading Pillow or OpenCV for
    this would cost seconds of start-up. The sampling grid is OpenCV's INTER_LINEAR (and
    ``tf.image.resize`` bilinear with half-pixel centres): the FER models were trained on
    ``cv2.resize`` output. Each output pixel blends its four neighbours, gathered straight from
    the source with fancy indexing while still uint8: shrinking a 640x480 frame to 128x96 touches
    4 x 128 x 96 pixels, not whole rows (2.8x faster than blending gathered rows first).
    """
    in_h, in_w = image.shape[:2]
    y0, y1, wy = _sample_grid(in_h, out_h)
    x0, x1, wx = _sample_grid(in_w, out_w)
    y0, y1 = y0[:, None], y1[:, None]
    top_left = image[y0, x0].astype(np.float32)
    top_right = image[y0, x1].astype(np.float32)
    bottom_left = image[y1, x0].astype(np.float32)
    bottom_right = image[y1, x1].astype(np.float32)
    wx = wx[None, :, None]
    top = top_left + (top_right - top_left) * wx
    bottom = bottom_left + (bottom_right - bottom_left) * wx
    return top + (bottom - top) * wy[:, None, None]


def _sample_grid(n_in: int, n_out: int):
    """Source indices and weights for each output position (half-pixel centres, edge clamped)."""
    src = (np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0.0, n_in - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (src - lo).astype(np.float32)


def rotated_crop(frame: np.ndarray, centre, side: float, angle: float, out_h: int, out_w: int) -> np.ndarray:
    """A square of ``side`` pixels around ``centre``, turned by ``angle`` radians, resampled to
    (out_h, out_w, 3) float32 with bilinear interpolation; outside the frame the edge repeats.

    Output pixel (u, v) samples frame point ``centre + R(angle) @ ((u + .5) / out_w - .5,
    (v + .5) / out_h - .5) * side``, so a face whose eye line lies at ``angle`` comes out level.
    """
    h, w = frame.shape[:2]
    u = ((np.arange(out_w, dtype=np.float32) + 0.5) / out_w - 0.5) * side
    v = ((np.arange(out_h, dtype=np.float32) + 0.5) / out_h - 0.5) * side
    lx, ly = np.meshgrid(u, v)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    x = np.clip(centre[0] + c * lx - s * ly - 0.5, 0, w - 1)  # -0.5: pixel centres sit at +0.5
    y = np.clip(centre[1] + s * lx + c * ly - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    rgb = frame[..., :3]
    top = rgb[y0, x0].astype(np.float32) * (1 - wx) + rgb[y0, x1].astype(np.float32) * wx
    bottom = rgb[y1, x0].astype(np.float32) * (1 - wx) + rgb[y1, x1].astype(np.float32) * wx
    return top * (1 - wy) + bottom * wy


def normalize(pixels: np.ndarray, spec: Input) -> np.ndarray:
    """Apply ``(pixel / scale - mean) / std`` with the manifest's per-channel mean and std."""
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return ((pixels / np.float32(spec.scale)) - mean) / std


def face_batch(frame: np.ndarray, boxes, spec: Input, margin: float) -> np.ndarray:
    """Crop, colour-convert, resize and normalize every face box into one batch."""
    frame_h, frame_w = frame.shape[:2]
    batch = np.empty((len(boxes), spec.height, spec.width, spec.channels), dtype=np.float32)
    for i, box in enumerate(boxes):
        x, y, s, _ = square_box(box, margin, frame_w, frame_h)
        # Resize, then convert colour: both are linear, so the order does not change the result,
        # and converting after the resize touches h*w pixels instead of the whole crop.
        batch[i] = to_color(resize_bilinear(frame[y : y + s, x : x + s, :3], spec.height, spec.width), spec.color)
    return normalize(batch, spec)


def detector_input(frame: np.ndarray, spec: Input) -> tuple[np.ndarray, Letterbox]:
    """Letterbox the frame into the detector's square input; return it and the mapping back."""
    frame_h, frame_w = frame.shape[:2]
    scale = max(frame_w / spec.width, frame_h / spec.height)
    fit_w = max(1, min(spec.width, int(round(frame_w / scale))))
    fit_h = max(1, min(spec.height, int(round(frame_h / scale))))
    out = np.zeros((1, spec.height, spec.width, spec.channels), dtype=np.float32)
    out[0, :fit_h, :fit_w] = to_color(resize_bilinear(frame[..., :3], fit_h, fit_w), spec.color)
    # Padding is black in pixel units, so normalize the whole square after filling it.
    return normalize(out, spec), Letterbox(scale=scale, width=frame_w, height=frame_h)
