"""Preprocessing numerics, checked against values worked out by hand."""

import numpy as np
import pytest

from moodlens.manifest import Input
from moodlens.preprocess import detector_input, face_batch, normalize, resize_bilinear, shrunk_size, square_box, to_color

RAW = Input(width=2, height=2, color="grayscale", scale=1.0, mean=(0.0,), std=(1.0,))


def test_upsampling_interpolates_between_pixel_centres():
    """2x2 -> 4x4 with half-pixel centres: sample points 0, .25, .75, 1 (edges clamped)."""
    image = np.array([[0, 10], [20, 30]], dtype=np.float32)[..., None]
    out = resize_bilinear(image, 4, 4)[..., 0]
    assert out[0, 0] == 0 and out[3, 3] == 30
    assert out[0, 1] == pytest.approx(2.5)  # 0 * .75 + 10 * .25
    assert out[1, 1] == pytest.approx(7.5)  # rows 2.5 and 22.5, mixed .75/.25
    assert out[2, 1] == pytest.approx(17.5)


def test_halving_averages_each_2x2_block():
    image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    out = resize_bilinear(image, 2, 2)[..., 0]
    np.testing.assert_allclose(out, [[2.5, 4.5], [10.5, 12.5]])


def test_resize_accepts_uint8_and_keeps_channels():
    image = np.full((6, 9, 3), 200, dtype=np.uint8)
    out = resize_bilinear(image, 3, 4)
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    assert np.all(out == 200)


def test_grayscale_uses_bt601_weights():
    pixels = np.array([[[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]], dtype=np.uint8)
    gray = to_color(pixels, "grayscale")[0, :, 0]
    np.testing.assert_allclose(gray, [76.245, 149.685, 29.07], rtol=1e-5)


def test_rgb_drops_alpha():
    pixels = np.array([[[1, 2, 3, 255]]], dtype=np.uint8)
    assert to_color(pixels, "rgb").tolist() == [[[1.0, 2.0, 3.0]]]


def test_normalize_applies_scale_mean_and_std_per_channel():
    spec = Input(1, 1, "rgb", 255.0, (0.5432, 0.4287, 0.3821), (0.2862, 0.2541, 0.2465))
    out = normalize(np.array([[[255.0, 0.0, 127.5]]]), spec)[0, 0]
    expected = [(1 - 0.5432) / 0.2862, (0 - 0.4287) / 0.2541, (0.5 - 0.3821) / 0.2465]
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_square_box_widens_by_margin_and_shifts_inside_the_frame():
    # 30x40 box, margin .5 -> side 60 around centre (25, 40) -> left -5, shifted to 0.
    assert square_box((10, 20, 30, 40), 0.5, 100, 100) == (0, 10, 60, 60)
    # Near the bottom-right corner: shifted back so the square stays whole.
    assert square_box((90, 90, 10, 10), 1.0, 100, 100) == (80, 80, 20, 20)


def test_square_box_larger_than_frame_shrinks_to_the_shorter_side():
    # centre (100, 75): left 40, top 15 shifted up to 0
    assert square_box((0, 0, 200, 150), 0.2, 160, 120) == (40, 0, 120, 120)


def test_face_batch_crops_the_box_then_resizes_and_normalizes():
    # Every pixel's value is its x coordinate, so the crop's columns show where it came from.
    frame = np.zeros((8, 16, 4), dtype=np.uint8)
    frame[..., :3] = np.arange(16, dtype=np.uint8)[None, :, None]
    batch = face_batch(frame, [(4, 0, 4, 4), (10, 2, 4, 4)], RAW, margin=0.0)
    assert batch.shape == (2, 2, 2, 1) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0, 0, :, 0], [4.5, 6.5], rtol=1e-6)  # columns 4..7 halved
    np.testing.assert_allclose(batch[1, 1, :, 0], [10.5, 12.5], rtol=1e-6)


def test_face_batch_matches_the_fer_normalization(emotion_manifest):
    """(gray / 255 - 0.5) * 2, as the FER-2013 models expect: gray 18.15 -> -0.857647."""
    frame = np.zeros((100, 100, 4), dtype=np.uint8)
    frame[..., :3] = (10, 20, 30)
    batch = face_batch(frame, [(20, 20, 40, 40)], emotion_manifest.input, emotion_manifest.crop_margin)
    assert batch.shape == (1, 64, 64, 1)
    np.testing.assert_allclose(batch, (18.15 / 255 - 0.5) * 2, rtol=1e-5)


def test_empty_box_list_gives_an_empty_batch(emotion_manifest):
    batch = face_batch(np.zeros((10, 10, 4), np.uint8), [], emotion_manifest.input, 0.2)
    assert batch.shape == (0, 64, 64, 1)


def test_detector_input_letterboxes_keeping_aspect():
    spec = Input(4, 4, "rgb", 255.0, (0.5,) * 3, (0.5,) * 3)
    frame = np.full((2, 4, 4), 255, dtype=np.uint8)
    tensor, letterbox = detector_input(frame, spec)
    assert tensor.shape == (1, 4, 4, 3)
    assert np.all(tensor[0, :2] == 1.0)  # the picture: 255 -> 1
    assert np.all(tensor[0, 2:] == -1.0)  # black padding below: 0 -> -1
    assert (letterbox.scale, letterbox.width, letterbox.height) == (1.0, 4, 2)


def test_detector_input_scale_maps_back_to_frame_pixels(detector_manifest):
    tensor, letterbox = detector_input(np.zeros((480, 640, 4), np.uint8), detector_manifest.input)
    assert tensor.shape == (1, 128, 128, 3)
    assert letterbox.scale == 5.0  # 640 / 128; the 480 rows fill 96 of the 128
    assert np.all(tensor[0, 96:] == -1.0)


def test_a_picture_is_shrunk_only_past_the_longest_side_allowed():
    assert shrunk_size(4096, 3000, 4096) == (1.0, (4096, 3000))
    scale, size = shrunk_size(6000, 4000, 4096)
    assert scale == 4096 / 6000 and size == (4096, 2731)
    assert shrunk_size(100000, 1, 4096)[1] == (4096, 1)  # never a side of 0
