"""detector.faces: the `faces` set's view. The square rule on made-up boxes, BlazeFace on real clips of
../shared/media (faces found in a conversation and in a kissing close-up) and on generated pictures without any,
its weights checked."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from detector import faces
from detector.constants import FACE_PAIR_MIN_SIDE, FRAME_CROP
from detector.decode import iter_window_batches, probe
from detector.errors import MissingWeightsError
from detector.faces import FaceBox, FaceFinder, face_pair_crops, face_pair_square
from tests.mediagen import make_colour_video, make_video


def box(x, y, w, h, score=0.9) -> FaceBox:
    return FaceBox(x, y, w, h, score)


def inside(square, face) -> bool:
    left, top, side = square
    return (left <= face.x and top <= face.y
            and face.x + face.width <= left + side and face.y + face.height <= top + side)


def test_no_face_gives_the_centre_square():
    assert face_pair_square([], width=400, height=256) == (72, 0, 256)
    assert face_pair_square([], width=256, height=344) == (0, 44, 256)


def test_the_square_holds_the_two_largest_faces_and_stays_in_the_picture():
    big, second, small = box(40, 60, 50, 60), box(120, 70, 45, 50), box(330, 10, 10, 12)
    square = face_pair_square([small, big, second], width=400, height=256)
    left, top, side = square
    assert inside(square, big) and inside(square, second) and not inside(square, small)
    assert 0 <= left and left + side <= 400 and 0 <= top and top + side <= 256
    assert side == round(1.5 * (165 - 40))  # 1.5 times the joint box's longer side


def test_a_small_face_is_not_blown_up_and_a_face_at_the_edge_moves_the_square_inside():
    tiny = box(380, 240, 12, 14)
    left, top, side = face_pair_square([tiny], width=400, height=256)
    assert side == round(FACE_PAIR_MIN_SIDE * 256)
    assert (left + side, top + side) == (400, 256) and inside((left, top, side), tiny)


def test_faces_larger_than_the_picture_give_at_most_its_shorter_side():
    left, top, side = face_pair_square([box(0, 0, 300, 250), box(250, 10, 150, 200)], width=400, height=256)
    assert side == 256 and top == 0 and 0 <= left <= 400 - 256


def whole_frames(path) -> np.ndarray:
    info = probe(path)
    return np.concatenate([b.frames for b in iter_window_batches(path, info=info, batch_size=8, whole_frame=True)])


@pytest.fixture(scope="module")
def finder():
    with FaceFinder() as found:
        yield found


def test_faces_are_found_in_a_film_conversation_and_the_crop_is_around_them(shared_media, finder):
    pictures = whole_frames(shared_media / "notkiss_ava_film_talk_h264_mp3.mp4")
    assert pictures.shape == (3, 256, 342, 3)
    found = [finder.find(picture) for picture in pictures]
    assert all(len(window) >= 2 for window in found), [len(window) for window in found]
    assert all(0.5 <= face.score <= 1 and face.width > 10 for window in found for face in window)
    crops = face_pair_crops(pictures, finder)
    assert crops.shape == (3, FRAME_CROP, FRAME_CROP, 3) and crops.dtype == np.uint8
    centre = pictures[:, 16:240, 59:283]
    assert np.abs(crops.astype(int) - centre).mean() > 10  # not the centre crop
    assert all(finder.find(crop) for crop in crops)  # the faces are in what the image network sees


def test_the_faces_of_a_kissing_close_up_are_found(shared_media, finder):
    """The short-range model: the full-range one finds no face in this kiss (bench/RESULTS-quality.md)."""
    pictures = whole_frames(shared_media / "kiss_hmdb51_tv_224px_silent.mp4")
    assert all(finder.find(picture) for picture in pictures)


def test_no_face_where_there_is_none(finder, tmp_path):
    pattern = whole_frames(make_video(tmp_path / "testsrc2.mp4", duration_s=3, size="640x360"))
    plain = whole_frames(make_colour_video(tmp_path / "plain.mp4", colour="orange", tone_hz=300, duration_s=2))
    for pictures in (pattern, plain):
        assert [finder.find(picture) for picture in pictures] == [[]] * len(pictures)
        short = min(pictures.shape[1:3])
        top, left = (pictures.shape[1] - short) // 2, (pictures.shape[2] - short) // 2
        centre = pictures[:1, top:top + short, left:left + short]
        expected = cv2.resize(centre[0], (FRAME_CROP, FRAME_CROP), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(face_pair_crops(pictures[:1], finder)[0], expected)


def test_a_tampered_or_missing_face_model_is_refused_with_what_to_run(monkeypatch):
    wrong = dataclasses.replace(faces.BLAZEFACE_SHORT_RANGE, sha256="0" * 64)
    monkeypatch.setattr(faces, "BLAZEFACE_SHORT_RANGE", wrong)
    with pytest.raises(MissingWeightsError, match=r"does not match its SHA-256.*requirements-nodeps\.txt"):
        FaceFinder()
    gone = dataclasses.replace(faces.BLAZEFACE_SHORT_RANGE, module="not_installed_anywhere")
    monkeypatch.setattr(faces, "BLAZEFACE_SHORT_RANGE", gone)
    with pytest.raises(MissingWeightsError, match=r"pip install --no-deps -r requirements-nodeps\.txt"):
        FaceFinder()
