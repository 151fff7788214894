"""Look-invariant cues measured on the labelled real clips (issue 16 parts 1-3): face detectors, views, time, head.

    python bench/cues.py frames     --spans ../shared/media/labels.csv   # decode once, cache under bench/out/cues/
    python bench/cues.py detectors  --spans ... --only mtcnn,nudenet,dlib_hog,haar,mp_face_full,mp_face_short,mp_mesh
    python bench/cues.py embed      --spans ...                          # EfficientNet-Lite0 on every view
    python bench/cues.py ablation   --spans ...                          # leave-one-source-out, one change per row

Everything is per labelled second (window k = [k, k + 1) s, labelled when it lies inside a span, as
bench/quality.py keeps them) and cached under bench/out/cues/ (ignored) so each step re-uses the previous one.

- frames: per clip, 3 frames per second (ffmpeg fps=3, round=down: the last one is the window's picture, as
  detector.decode picks it) scaled to a short side of 256 (what the detector's centre crop is cut from), and the
  window's picture again at a longer side of at most 640 px for the face detectors.
- detectors: the face detectors whose weights ship inside a PyPI package, run on the 640 px pictures with one
  CPU thread each; prints how often >= 1 and >= 2 faces are found on kiss and not-kiss seconds and the CPU
  milliseconds per frame (process time, so other engineers' load does not inflate it). They are not project
  dependencies; install them beside the venv, without their declared pins, only for this measurement:
      .venv/bin/pip install --no-deps --target bench/out/cues/pkgs nudenet==3.4.2 onnxruntime==1.32.0 \\
          opencv-python-headless==5.1.0.95 flatbuffers==25.12.19 protobuf==7.36.2 facenet-pytorch==2.6.0 \\
          dlib-bin==20.0.1 face-recognition-models==0.3.0
      .venv/bin/pip install --target bench/out/cues/pkgs requests==2.34.2   # facenet-pytorch's package import needs it
      .venv/bin/pip install --no-deps --target bench/out/cues/pkgs_cv4 opencv-python-headless==4.14.0.94  # Haar
  (OpenCV 5 dropped the Haar cascades.) The MediaPipe rows (BlazeFace full- and short-range, face mesh) use the
  mediapipe in the venv (requirements-nodeps.txt), the package of the `faces` backbone set.
- embed: EfficientNet-Lite0 (the `offline` set's image network) on each view of each second: the centre crop
  (today's path), the whole frame letterboxed, three crops along the long side (pooled mean / max), the centre
  crop of each of the 3 frames (pooled), a crop around the two largest MTCNN faces, and a motion energy (mean
  absolute difference of 64x64 grey thumbnails between consecutive frames).
- ablation: `detector.fewshot.train_fewshot` (the default recipe's own fit, 5-fold calibrated cut, 3-second
  smoothing) trained leave-one-source-out on each feature combination; without the training looks (the looks
  are measured by bench/quality.py, `--option looks=[]`). An MLP head row uses the same weights and smoothing;
  the gradient-boosted trees rows need scikit-learn beside the venv, for this measurement only:
      .venv/bin/pip install --no-deps --target bench/out/cues/pkgs_gbt scikit-learn==1.7.2 scipy==1.16.3 \
          joblib==1.5.2 threadpoolctl==3.6.0
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out" / "cues"
DETECTORS = ("mtcnn", "nudenet", "dlib_hog", "haar", "mp_face_full", "mp_face_short", "mp_mesh")
FACE_MIN_CONFIDENCE = 0.5


# --- labelled seconds ----------------------------------------------------------------------------------------


def read_rows(spans: Path) -> list[dict]:
    return list(csv.DictReader(spans.open()))


def clip_key(rel: str) -> str:
    return rel.replace("/", "__")


def second_labels(rows: list[dict], rel: str, n: int) -> np.ndarray:
    """-1 unlabelled, 0, 1 per window, as bench/quality.py keeps a span's seconds."""
    labels = np.full(n, -1)
    t = np.arange(n)
    for row in rows:
        if row["path"] == rel:
            labels[(t >= float(row["start_s"])) & (t + 1.0 <= float(row["end_s"]))] = int(row["label"])
    return labels


# --- frames --------------------------------------------------------------------------------------------------


def _decode(path: Path, *, fps: int, size: tuple[int, int], n: int) -> np.ndarray:
    from detector.decode import ffmpeg_exe

    w, h = size
    args = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-an", "-vf",
            f"fps=fps={fps}:start_time=0:round=down,scale={w}:{h}:flags=bilinear,setsar=1,format=rgb24",
            "-frames:v", str(fps * n), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    raw = subprocess.run(args, capture_output=True, check=True, timeout=600).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def frames(rows: list[dict], root: Path) -> None:
    from detector.decode import probe

    (OUT / "frames").mkdir(parents=True, exist_ok=True)
    for rel in sorted({r["path"] for r in rows}):
        target = OUT / "frames" / f"{clip_key(rel)}.npz"
        if target.exists():
            continue
        info = probe(root / rel)
        w, h, n = info.width, info.height, info.window_count
        short = 256 / min(w, h)
        big = min(1.0, 640 / max(w, h))
        even = lambda v: int(round(v / 2) * 2)  # noqa: E731
        three = _decode(root / rel, fps=3, size=(even(w * short), even(h * short)), n=n)
        last = _decode(root / rel, fps=1, size=(even(w * big), even(h * big)), n=n)
        np.savez_compressed(target, three=three, last=last)
        print(f"{rel}: {n} windows", flush=True)


def load_frames(rel: str) -> dict[str, np.ndarray]:
    with np.load(OUT / "frames" / f"{clip_key(rel)}.npz") as data:
        return {"three": data["three"], "last": data["last"]}


# --- face detectors ------------------------------------------------------------------------------------------


def _scaled(img: np.ndarray, longest: int):
    import cv2

    s = min(1.0, longest / max(img.shape[:2]))
    return (cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img), s


def make_detector(name: str):
    """A function RGB uint8 (h, w, 3) -> [[x, y, w, h, confidence, *landmarks], ...] in that image's pixels."""
    if not name.startswith("mp_"):  # mediapipe is in the venv (requirements-nodeps.txt)
        sys.path.insert(0, str(OUT / ("pkgs_cv4" if name == "haar" else "pkgs")))
    import cv2

    cv2.setNumThreads(1)
    if name == "haar":
        front = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        profile = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_profileface.xml")

        def haar(img):
            grey, s = _scaled(cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)), 320)
            found = []
            for cascade, flip in ((front, False), (profile, False), (profile, True)):
                view = np.ascontiguousarray(grey[:, ::-1]) if flip else grey
                for x, y, w, h in cascade.detectMultiScale(view, 1.15, 4, minSize=(16, 16)):
                    x = view.shape[1] - x - w if flip else x
                    found.append([x / s, y / s, w / s, h / s, 1.0])
            return found
        return haar
    if name == "nudenet":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        import nudenet

        session = onnxruntime.InferenceSession(str(Path(nudenet.__file__).parent / "320n.onnx"), options,
                                               providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        face_classes = [1, 12]  # FACE_FEMALE, FACE_MALE in nudenet's label list

        def nude(img):
            h, w = img.shape[:2]
            side = max(h, w)
            square = np.zeros((side, side, 3), np.uint8)
            square[:h, :w] = img
            blob = cv2.resize(square, (320, 320)).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            out = session.run(None, {input_name: blob})[0][0].T
            scores = out[:, 4:][:, face_classes].max(axis=1)
            keep = scores >= 0.25
            k = side / 320
            boxes = [[(cx - bw / 2) * k, (cy - bh / 2) * k, bw * k, bh * k] for cx, cy, bw, bh in out[keep, :4].tolist()]
            kept = np.array(cv2.dnn.NMSBoxes(boxes, scores[keep].tolist(), 0.25, 0.45)).reshape(-1)
            return [boxes[i] + [float(scores[keep][i])] for i in kept]
        return nude
    if name == "mtcnn":
        import torch
        from facenet_pytorch.models.mtcnn import MTCNN

        torch.set_num_threads(1)
        net = MTCNN(keep_all=True, device="cpu", min_face_size=20)

        def mtcnn(img):
            im, s = _scaled(img, 480)
            boxes, probs, marks = net.detect(im, landmarks=True)
            if boxes is None:
                return []
            return [[b[0] / s, b[1] / s, (b[2] - b[0]) / s, (b[3] - b[1]) / s, float(p), *(m / s).reshape(-1).tolist()]
                    for b, p, m in zip(boxes, probs, marks)]
        return mtcnn
    if name == "dlib_hog":
        import dlib

        hog = dlib.get_frontal_face_detector()

        def dlib_hog(img):
            im, s = _scaled(img, 480)
            upsample = 1 if max(im.shape[:2]) < 400 else 0
            return [[r.left() / s, r.top() / s, r.width() / s, r.height() / s, 1.0] for r in hog(im, upsample)]
        return dlib_hog
    if name in ("mp_face_full", "mp_face_short"):
        from mediapipe.python.solutions.face_detection import FaceDetection

        net = FaceDetection(model_selection=int(name == "mp_face_full"), min_detection_confidence=0.3)

        def mp_face(img):
            h, w = img.shape[:2]
            found = []
            for d in net.process(img).detections or []:
                box = d.location_data.relative_bounding_box
                eye_r, eye_l, nose, mouth = [(k.x * w, k.y * h) for k in d.location_data.relative_keypoints[:4]]
                found.append([box.xmin * w, box.ymin * h, box.width * w, box.height * h, float(d.score[0]),
                              *eye_r, *eye_l, *nose, *mouth, *mouth])  # MTCNN's layout: mouth corners -> centre twice
            return found
        return mp_face
    if name == "mp_mesh":
        from mediapipe.python.solutions.face_mesh import FaceMesh

        mesh = FaceMesh(static_image_mode=True, max_num_faces=4, min_detection_confidence=0.3)
        eyes_nose_mouth = (33, 263, 1, 61, 291)  # eye corners, nose tip, mouth corners of the 468-point mesh

        def mp_mesh(img):
            h, w = img.shape[:2]
            found = []
            for face in mesh.process(img).multi_face_landmarks or []:
                xy = np.array([(p.x * w, p.y * h) for p in face.landmark])
                x0, y0 = xy.min(axis=0)
                x1, y1 = xy.max(axis=0)
                found.append([x0, y0, x1 - x0, y1 - y0, 1.0, *xy[list(eyes_nose_mouth)].reshape(-1).tolist()])
            return found
        return mp_mesh
    raise SystemExit(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")


def detectors(rows: list[dict], names: list[str]) -> None:
    clips = sorted({r["path"] for r in rows})
    for name in names:
        run = make_detector(name)
        found, cpu = {}, []
        for rel in clips:
            pictures = load_frames(rel)["last"]
            per_second = []
            for img in pictures:
                started = time.process_time()
                per_second.append(run(np.ascontiguousarray(img)))
                cpu.append(time.process_time() - started)
            found[rel] = {"faces": per_second, "shape": list(pictures.shape[1:3])}
        (OUT / f"faces_{name}.json").write_text(json.dumps(found))
        print(f"{name}: {1000 * np.median(cpu):.1f} ms CPU per frame (median, one thread)")
        for label in (1, 0):
            counts = np.concatenate([
                [len([f for f in d if f[4] >= FACE_MIN_CONFIDENCE]) for d, lab in
                 zip(found[rel]["faces"], second_labels(rows, rel, len(found[rel]["faces"]))) if lab == label]
                for rel in clips])
            print(f"  {'kiss' if label else 'not-kiss'} seconds ({counts.size}): >= 1 face {np.mean(counts >= 1):.2f}, "
                  f">= 2 faces {np.mean(counts >= 2):.2f}")


# --- the face feature block ----------------------------------------------------------------------------------


def face_block(faces: list[list[float]], height: int, width: int) -> np.ndarray:
    """10 numbers per second from one frame's faces: count (/4, capped), >= 1, >= 2, sqrt of the largest face's
    area share, best confidence, sqrt of all faces' area share, and for the closest pair (centre distance over
    their mean size): exp(-distance), IoU, area ratio, exp(-mouth-to-mouth distance / size) when landmarks exist."""
    faces = [f for f in faces if f[4] >= FACE_MIN_CONFIDENCE]
    out = np.zeros(10)
    n = len(faces)
    out[:3] = min(n, 4) / 4, n >= 1, n >= 2
    if n:
        areas = [f[2] * f[3] / (height * width) for f in faces]
        out[3], out[4], out[5] = np.sqrt(max(areas)), max(f[4] for f in faces), np.sqrt(sum(areas))
    best = None
    for i in range(n):
        for j in range(i + 1, n):
            a, b = faces[i], faces[j]
            size = (np.sqrt(a[2] * a[3]) + np.sqrt(b[2] * b[3])) / 2
            centre_a = np.array([a[0] + a[2] / 2, a[1] + a[3] / 2])
            centre_b = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])
            distance = float(np.linalg.norm(centre_a - centre_b) / size)
            if best is not None and distance >= best[0]:
                continue
            ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
            iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
            iou = ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)
            ratio = min(a[2] * a[3], b[2] * b[3]) / max(a[2] * a[3], b[2] * b[3])
            mouth = 0.0
            if len(a) >= 15 and len(b) >= 15:  # MTCNN: eyes, nose, mouth corners (x, y) after the confidence
                mouth_a = np.array(a[11:15]).reshape(2, 2).mean(axis=0)
                mouth_b = np.array(b[11:15]).reshape(2, 2).mean(axis=0)
                mouth = float(np.exp(-np.linalg.norm(mouth_a - mouth_b) / size))
            best = (distance, iou, ratio, mouth)
    if best is not None:
        out[6:] = np.exp(-best[0]), best[1], best[2], best[3]
    return out


# --- views through the image network -------------------------------------------------------------------------


def _crops3(f: np.ndarray, c: int = 224) -> list[np.ndarray]:
    h, w = f.shape[:2]
    if w >= h:
        y = (h - c) // 2
        return [f[y:y + c, x:x + c] for x in (0, (w - c) // 2, w - c)]
    x = (w - c) // 2
    return [f[y:y + c, x:x + c] for y in (0, (h - c) // 2, h - c)]


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    import torch

    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    t = torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def _letterbox(f: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    s = 224 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    out = np.zeros((224, 224, 3), np.uint8)
    y0, x0 = (224 - nh) // 2, (224 - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = _resize(f, nh, nw)
    return out


def _around(f: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A square 1.6x the box's longer side around its centre (inside the frame), resized to 224."""
    height, width = f.shape[:2]
    x0, y0, x1, y1 = box
    side = min(max(max(x1 - x0, y1 - y0) * 1.6, 64), min(height, width))
    a = int(np.clip((x0 + x1) / 2 - side / 2, 0, width - side))
    b = int(np.clip((y0 + y1) / 2 - side / 2, 0, height - side))
    side = int(side)
    return _resize(f[b:b + side, a:a + side], 224, 224)


def embed(rows: list[dict]) -> None:
    import torch

    from detector.networks import load_backbones

    torch.set_num_threads(2)
    nets = load_backbones("offline", "cpu")

    def net(images: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
        x = ((x - nets.mean) / nets.std).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return torch.cat([nets.image_net(x[i:i + 16]) for i in range(0, len(x), 16)]).numpy()

    mtcnn_path = OUT / "faces_mtcnn.json"
    mtcnn = json.loads(mtcnn_path.read_text()) if mtcnn_path.exists() else None
    views = {}
    for rel in sorted({r["path"] for r in rows}):
        got = load_frames(rel)
        three, last = got["three"], got["last"]
        n = len(last)
        at = lambda k, j: three[min(3 * k + j, len(three) - 1)]  # noqa: E731
        pictures = [at(k, 2) for k in range(n)]
        crops = net([c for p in pictures for c in _crops3(p)]).reshape(n, 3, -1)
        views[f"{rel}|crop"] = crops[:, 1]
        views[f"{rel}|crops3"] = crops
        views[f"{rel}|letterbox"] = net([_letterbox(p) for p in pictures])
        views[f"{rel}|time3"] = net([_crops3(at(k, j))[1] for k in range(n) for j in range(3)]).reshape(n, 3, -1)
        grey = np.stack([_resize(at(k, j), 64, 64).mean(axis=2) for k in range(n) for j in range(3)]).reshape(n, 3, 64, 64)
        sequence = np.concatenate([np.concatenate([grey[:1, :1], grey[:-1, 2:3]]), grey], axis=1)
        views[f"{rel}|motion"] = np.abs(np.diff(sequence, axis=1)).mean(axis=(2, 3)) / 255.0
        if mtcnn is not None:
            around = []
            for k, picture in enumerate(last):
                faces = [f for f in mtcnn[rel]["faces"][k] if f[4] >= FACE_MIN_CONFIDENCE]
                faces = sorted(faces, key=lambda f: -f[2] * f[3])[:2]
                h, w = picture.shape[:2]
                box = ((min(f[0] for f in faces), min(f[1] for f in faces), max(f[0] + f[2] for f in faces),
                        max(f[1] + f[3] for f in faces)) if faces else
                       ((w - min(h, w)) / 2, (h - min(h, w)) / 2, (w + min(h, w)) / 2, (h + min(h, w)) / 2))
                around.append(_around(picture, box))
            views[f"{rel}|faces_crop"] = net(around)
        print(f"{rel}: {n} windows", flush=True)
    np.savez(OUT / "views.npz", **views)


# --- leave-one-source-out ------------------------------------------------------------------------------------


def features(rows: list[dict], recipe: str) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Per clip (n, D) from a '+'-joined recipe: crop, letterbox, crops3_mean, crops3_max, time3_mean, time3_max,
    faces_crop, motion, faces_<detector>."""
    views = np.load(OUT / "views.npz")
    faces = {}
    xs, ys, gs = [], [], []
    for rel in sorted({r["path"] for r in rows}):
        n = len(views[f"{rel}|crop"])
        parts = []
        for part in recipe.split("+"):
            if part in ("crop", "letterbox", "faces_crop"):
                parts.append(views[f"{rel}|{part}"])
            elif part.startswith(("crops3_", "time3_")):
                name, pool = part.split("_")
                parts.append(getattr(views[f"{rel}|{name}"], pool)(axis=1))
            elif part == "motion":
                m = views[f"{rel}|motion"]
                parts.append(np.log(np.stack([m[:, 0], m[:, 1:].mean(axis=1)], axis=1) + 1e-3))
            elif part.startswith("faces_"):
                name = part[len("faces_"):]
                if name not in faces:
                    faces[name] = json.loads((OUT / f"faces_{name}.json").read_text())
                got = faces[name][rel]
                parts.append(np.stack([face_block(f, *got["shape"]) for f in got["faces"]][:n]))
            else:
                raise SystemExit(f"unknown feature {part!r}")
        xs.append(np.concatenate([_rows(part, n) for part in parts], axis=1).astype(np.float64))
        ys.append(second_labels(rows, rel, n))
        gs.append(next(r["group"] for r in rows if r["path"] == rel))
    return xs, ys, gs


def _rows(a: np.ndarray, n: int) -> np.ndarray:
    """n rows: a decode that returned a frame fewer (a clip's last window) repeats its last picture's values."""
    return a[:n] if len(a) >= n else np.concatenate([a, np.repeat(a[-1:], n - len(a), axis=0)])


def _fit_mlp(x, y, g, *, hidden=32, weight_decay=1e-2, epochs=300, seeds=3):
    import torch

    from detector.fewshot import cell_weights

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = torch.tensor((x - mean) / std, dtype=torch.float32)
    target = torch.tensor(y, dtype=torch.float32)
    w = torch.tensor(cell_weights(y, g), dtype=torch.float32)
    w = w / w.sum()
    nets = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(z.shape[1], hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, 1))
        optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
        for _ in range(epochs):
            optimiser.zero_grad()
            loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(net(z)[:, 0], target, reduction="none")).sum()
            loss.backward()
            optimiser.step()
        nets.append(net.eval())

    def probabilities(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            zz = torch.tensor((features - mean) / std, dtype=torch.float32)
            logit = np.mean([net(zz)[:, 0].numpy() for net in nets], axis=0)
        smooth = np.convolve(np.pad(logit, 1, mode="edge"), np.ones(3) / 3, "valid")  # 3-second smoothing
        return 1 / (1 + np.exp(-smooth))
    return probabilities


def _fit_gbt(x, y, g):
    """Gradient-boosted trees (scikit-learn's histogram GBT, generic settings, cells weighed as the recipe weighs
    them), with the same 3-second smoothing of the logit as the other heads."""
    sys.path.insert(0, str(OUT / "pkgs_gbt"))
    from sklearn.ensemble import HistGradientBoostingClassifier

    from detector.fewshot import cell_weights

    trees = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=10, l2_regularization=1.0,
        early_stopping=False, random_state=0,
    ).fit(x, y, sample_weight=cell_weights(y, g))

    def probabilities(features: np.ndarray) -> np.ndarray:
        logit = trees.decision_function(features)
        smooth = np.convolve(np.pad(logit, 1, mode="edge"), np.ones(3) / 3, "valid")
        return 1 / (1 + np.exp(-smooth))
    return probabilities


def leave_one_source_out(xs, ys, gs, *, head: str = "logistic", frames_xs=None) -> dict:
    from detector.fewshot import train_fewshot
    from detector.metrics import average_precision
    from detector.head import SceneModel, score

    groups = sorted(set(gs))
    labels, probs, flagged = [], [], []
    for held in groups:
        train = [i for i, g in enumerate(gs) if g != held]
        x = np.concatenate([xs[i][ys[i] >= 0] for i in train])
        y = np.concatenate([ys[i][ys[i] >= 0] for i in train])
        g = np.concatenate([np.full((ys[i] >= 0).sum(), groups.index(gs[i])) for i in train])
        runs = np.concatenate([np.full((ys[i] >= 0).sum(), i) for i in train])
        augmented = np.zeros(y.size, dtype=bool)
        if head == "logistic+frames":  # the window's two earlier frames train too, as the looks do (not calibrated)
            earlier = range(frames_xs[train[0]].shape[1] - 1)
            more_x = np.concatenate([frames_xs[i][ys[i] >= 0][:, k] for k in earlier for i in train])
            more_y = np.concatenate([ys[i][ys[i] >= 0] for k in earlier for i in train])
            more_g = np.concatenate([np.full((ys[i] >= 0).sum(), groups.index(gs[i])) for k in earlier for i in train])
            more_runs = np.concatenate([np.full((ys[i] >= 0).sum(), 1000 * (k + 1) + i) for k in earlier for i in train])
            x, y, g = np.concatenate([x, more_x]), np.concatenate([y, more_y]), np.concatenate([g, more_g])
            runs = np.concatenate([runs, more_runs])
            augmented = np.concatenate([augmented, np.ones(more_y.size, dtype=bool)])
        if head.startswith("logistic"):
            weight, bias, scoring, _, _ = train_fewshot(x, y, g, image_dim=x.shape[1], runs=runs, augmented=augmented)
            model = SceneModel(weight=weight, bias=bias, card={"scoring": scoring})
            predict, cut = (lambda f, m=model: score(f, m)), scoring["cut"]
        elif head == "gbt":
            predict, cut = _fit_gbt(x, y, g), 0.5
        else:
            predict, cut = _fit_mlp(x, y, g), 0.5
        for i, g_i in enumerate(gs):
            if g_i == held:
                p = predict(xs[i].astype(np.float32))
                keep = ys[i] >= 0
                labels.append(ys[i][keep])
                probs.append(p[keep])
                flagged.append(p[keep] >= cut)
    y, p, f = np.concatenate(labels), np.concatenate(probs), np.concatenate(flagged)
    tp, fp, fn = int((f & (y == 1)).sum()), int((f & (y == 0)).sum()), int((~f & (y == 1)).sum())
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"f1": 2 * precision * recall / max(precision + recall, 1e-9), "precision": precision, "recall": recall,
            "false_alarms_per_10_min": fp / ((y == 0).sum() / 600), "average_precision": average_precision(y, p),
            "tp": tp, "fp": fp, "fn": fn, "best_f1": _best_f1(y, p)}


def _best_f1(y: np.ndarray, p: np.ndarray) -> float:
    """The F1 at the best cut in hindsight on the pooled held-out scores: an upper bound, not a promise."""
    order = np.argsort(-p)
    tp = np.cumsum(y[order] == 1)
    flagged = np.arange(1, y.size + 1)
    return float(np.max(2 * tp / (flagged + (y == 1).sum())))


ABLATION = (
    ("crop", "logistic", "today's view: centre crop of the last frame"),
    ("letterbox", "logistic", "whole frame letterboxed instead"),
    ("crop+letterbox", "logistic", "both, joined"),
    ("crops3_mean", "logistic", "3 crops along the long side, mean-pooled"),
    ("crops3_max", "logistic", "3 crops, max-pooled"),
    ("time3_mean", "logistic", "centre crop of 3 frames per second, mean-pooled"),
    ("time3_max", "logistic", "3 frames, max-pooled"),
    ("crop+motion", "logistic", "+ motion energy (2 numbers)"),
    ("crop+faces_mtcnn", "logistic", "+ MTCNN face block (10 numbers)"),
    ("crop+faces_nudenet", "logistic", "+ NudeNet face block"),
    ("crop+faces_dlib_hog", "logistic", "+ dlib HOG face block"),
    ("crop+faces_crop", "logistic", "+ the image network on a crop around the two largest MTCNN faces"),
    ("crop+faces_mp_face_full", "logistic", "+ MediaPipe BlazeFace full-range face block"),
    ("crop+faces_mp_face_short", "logistic", "+ MediaPipe BlazeFace short-range face block"),
    ("crop+faces_mp_mesh", "logistic", "+ MediaPipe face-mesh face block (mouth from the mesh)"),
    ("faces_mtcnn", "logistic", "MTCNN face block alone"),
    ("faces_mtcnn+motion", "logistic", "MTCNN face block + motion alone"),
    ("crop", "logistic+frames", "the window's 2 earlier frames (of 3 per second) train as extra samples"),
    ("crop", "mlp", "MLP head (32 hidden, dropout, 3 seeds) instead of logistic"),
    ("crop+faces_mtcnn", "mlp", "MLP head on crop + MTCNN face block"),
    ("crop", "gbt", "gradient-boosted trees (scikit-learn, generic settings) instead of logistic"),
    ("crop+motion+faces_mp_face_short", "gbt", "trees on crop + motion + BlazeFace short-range face block"),
)


def ablation(rows: list[dict], only: list[str] | None) -> None:
    print("| features | head | what | F1 | P | R | false alarms / 10 min | AP | best F1 in hindsight |")
    print("|---|---|---|---|---|---|---|---|---|")
    for recipe, head, what in ABLATION:
        if only and recipe not in only:
            continue
        try:
            xs, ys, gs = features(rows, recipe)
        except (FileNotFoundError, KeyError) as exc:
            print(f"| `{recipe}` | {head} | {what} | not measured ({exc}) | | | | | |", flush=True)
            continue
        frames_xs = None
        if head == "logistic+frames":
            views = np.load(OUT / "views.npz")
            frames_xs = [_rows(views[f"{rel}|time3"], len(x)).astype(np.float64)
                         for rel, x in zip(sorted({r["path"] for r in rows}), xs)]
        r = leave_one_source_out(xs, ys, gs, head=head, frames_xs=frames_xs)
        print(f"| `{recipe}` | {head} | {what} | {r['f1']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
              f"| {r['false_alarms_per_10_min']:.1f} | {r['average_precision']:.3f} | {r['best_f1']:.3f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("frames", "detectors", "embed", "ablation"))
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated detectors (detectors) or feature recipes (ablation)")
    args = parser.parse_args(argv)
    rows = read_rows(args.spans)
    only = [s for s in args.only.split(",") if s]
    OUT.mkdir(parents=True, exist_ok=True)
    if args.step == "frames":
        frames(rows, args.spans.parent)
    elif args.step == "detectors":
        detectors(rows, only or list(DETECTORS))
    elif args.step == "embed":
        embed(rows)
    else:
        ablation(rows, only or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
