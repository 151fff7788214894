"""Faces in a window's picture: the view of the `faces` backbone set.

A kiss is two faces meeting, and the centre crop cuts faces out of wide and vertical frames. BlazeFace short-range
(the model file inside mediapipe 0.10.14's face detection solution, checked by SHA-256; the model for faces near the
camera, which finds a face in about four times as many kiss seconds as the full-range one) finds the faces in the
picture scaled to a shorter side of 256; the image network then sees a square around the two largest of them
instead of the centre crop (the rule's numbers: detector.constants FACE_*). A picture without a face gives its
centre square. Measured against the other packaged detectors in bench/RESULTS-quality.md.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from detector.backbones import BLAZEFACE_SHORT_RANGE
from detector.constants import FACE_MIN_SCORE, FACE_PAIR_MARGIN, FACE_PAIR_MIN_SIDE, FRAME_CROP


@dataclass(frozen=True)
class FaceBox:
    """One face, in pixels of the picture it was found in."""

    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def area(self) -> float:
        return self.width * self.height


class FaceFinder:
    """BlazeFace short-range on RGB pictures (h, w, 3) uint8. Not thread-safe: one per thread; `close()` (or `with`)
    frees its graph. Raises MissingWeightsError, saying how to install it, when mediapipe or its model is absent."""

    def __init__(self) -> None:
        from detector.weights import package_weight_path

        package_weight_path(BLAZEFACE_SHORT_RANGE)
        os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ side logs every graph it starts
        # mediapipe 0.10.14 calls a protobuf 4.25 API that warns on every picture
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated",
                                category=UserWarning)
        from mediapipe.python.solutions.face_detection import FaceDetection

        self._detector = FaceDetection(model_selection=0, min_detection_confidence=FACE_MIN_SCORE)

    def find(self, picture: np.ndarray) -> list[FaceBox]:
        height, width = picture.shape[:2]
        result = self._detector.process(np.ascontiguousarray(picture))
        faces = []
        for detection in result.detections or ():
            box = detection.location_data.relative_bounding_box
            x0, y0 = max(box.xmin, 0.0) * width, max(box.ymin, 0.0) * height
            x1 = min(box.xmin + box.width, 1.0) * width
            y1 = min(box.ymin + box.height, 1.0) * height
            if x1 > x0 and y1 > y0:
                faces.append(FaceBox(x0, y0, x1 - x0, y1 - y0, float(detection.score[0])))
        return faces

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def face_pair_square(faces: list[FaceBox], *, width: int, height: int) -> tuple[int, int, int]:
    """(left, top, side) of the square the image network sees: around the two largest faces, else the centre."""
    short = min(width, height)
    if not faces:
        return (width - short) // 2, (height - short) // 2, short
    pair = sorted(faces, key=lambda face: face.area, reverse=True)[:2]
    x0, y0 = min(f.x for f in pair), min(f.y for f in pair)
    x1, y1 = max(f.x + f.width for f in pair), max(f.y + f.height for f in pair)
    side = round(min(short, max(FACE_PAIR_MARGIN * max(x1 - x0, y1 - y0), FACE_PAIR_MIN_SIDE * short)))
    left = round(min(max((x0 + x1 - side) / 2, 0), width - side))
    top = round(min(max((y0 + y1 - side) / 2, 0), height - side))
    return left, top, side


def face_pair_crops(pictures: np.ndarray, finder: FaceFinder) -> np.ndarray:
    """(b, h, w, 3) uint8 pictures -> (b, 224, 224, 3) uint8: each picture's face-pair square, resized."""
    import cv2

    out = np.empty((len(pictures), FRAME_CROP, FRAME_CROP, 3), dtype=np.uint8)
    height, width = pictures.shape[1:3]
    for i, picture in enumerate(pictures):
        left, top, side = face_pair_square(finder.find(picture), width=width, height=height)
        square = picture[top:top + side, left:left + side]
        shrink = cv2.INTER_AREA if side > FRAME_CROP else cv2.INTER_LINEAR
        out[i] = cv2.resize(square, (FRAME_CROP, FRAME_CROP), interpolation=shrink)
    return out
