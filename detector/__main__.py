"""The detector's command line: `python -m detector COMMAND ...` (results as JSON on stdout, progress on stderr).

Commands: detect, embed, train, evaluate, fetch-weights, fetch-published-model, import-reference-model. Expected failures (DetectorError)
print one sentence on stderr and exit 1; a missing model for `detect` exits 2 and says how to get one.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from detector.aggregate import DEFAULT_CUT, DEFAULT_PRESET, PRESETS
from detector.backbones import AUTO_ORDER, BUILTIN_SETS, MODEL_FILE_SETS, RECIPES, SET_NAMES, SETS
from detector.head import json_default

EXIT_ERROR = 1
EXIT_NO_MODEL = 2
NO_MODEL_HELP = (
    "detect needs a model file (--model FILE). Get one with\n"
    "  python -m detector train --clips CLIPS.csv -o kissing.safetensors   (CSV rows: path,label)\n"
    "or get the published model (needs internet):\n"
    "  python -m detector fetch-published-model -o models/\n"
    "or convert a model.pkl you downloaded:\n"
    "  python -m detector import-reference-model model.pkl -o kissing.safetensors"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m detector", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    detect = commands.add_parser("detect", help="find scenes in a video")
    detect.add_argument("video", type=Path)
    detect.add_argument("--model", type=Path, help="model file (.safetensors) from train or import-reference-model")
    _backbones_option(detect, default=None)
    detect.add_argument(
        "--cut", type=float, default=None,
        help=f"a second is a scene when P >= cut (default: the model card's calibrated cut, else {DEFAULT_CUT})",
    )
    detect.add_argument(
        "--preset", choices=list(PRESETS), default=DEFAULT_PRESET,
        help="named scene settings for --min-frames and --threshold: "
        + "; ".join(f"{p.name}: {p.min_frames} s, share {p.threshold}" for p in PRESETS.values()),
    )
    detect.add_argument("--min-frames", type=int, default=None, help="shortest scene, seconds (default: the preset's)")
    detect.add_argument("--threshold", type=float, default=None,
                        help="least share of scene seconds in a scene (default: the preset's)")
    detect.add_argument("--json", action="store_true", help="JSON on stdout (the default; kept for scripts)")
    _device_option(detect)
    detect.add_argument("--decoder", choices=["auto", "ffmpeg", "nvdec"], default=None,
                        help="who decodes the pictures (default: KISSWEB_DECODER, else auto: NVDEC on a CUDA host "
                             "with PyNvVideoCodec, ffmpeg otherwise); the JSON's decoding says which ran and why")

    embed = commands.add_parser("embed", help="per-second embeddings of a video to .npz")
    embed.add_argument("video", type=Path)
    embed.add_argument("-o", "--output", type=Path, required=True)
    _backbones_option(embed, default=None)
    embed.add_argument("--model", type=Path, help="embed as this model needs (its own backbones when it has them)")
    embed.add_argument("--random-init", action="store_true", help="random backbone weights (tests, benchmarks)")
    _device_option(embed)

    train = commands.add_parser("train", help="train a model from labelled clips or spans")
    _data_options(train)
    train.add_argument("-o", "--output", type=Path, required=True)
    _backbones_option(train, default="auto")
    train.add_argument("--scene-type", default="kissing")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--recipe", choices=RECIPES, default=None,
        help="default: the backbone set's own ("
        + ", ".join(f"{name}: {info.default_recipe}" for name, info in SETS.items()) + ")",
    )
    train.add_argument("--looks", default=None,
                       help="few-shot: comma-separated training looks (default all of detector.looks; '' for none)")
    train.add_argument("--audio", action="store_true", help="few-shot: also use the audio features")
    train.add_argument("--random-init", action="store_true", help="random backbone weights (tests, benchmarks)")
    train.add_argument("--cache-dir", type=Path, help="embedding cache (default ~/.cache/kissweb/embeddings)")
    _device_option(train)

    evaluate = commands.add_parser("evaluate", help="metrics of a model on labelled clips or spans")
    _data_options(evaluate)
    evaluate.add_argument("--model", type=Path, required=True)
    evaluate.add_argument("--cut", type=float, default=None, help="default: the model card's cut, else 0.5")
    evaluate.add_argument("--cache-dir", type=Path)
    _device_option(evaluate)

    fetch = commands.add_parser("fetch-weights", help="download (or check) a backbone set's pretrained weights")
    fetch.add_argument("--backbones", choices=BUILTIN_SETS, default=AUTO_ORDER[0])

    published = commands.add_parser(
        "fetch-published-model", help="download the published model.pkl and import it (needs internet)"
    )
    published.add_argument("-o", "--output-dir", type=Path, default=None,
                           help="folder for published.safetensors (default: KISSWEB_WEIGHTS_DIR)")
    published.add_argument("--sha256", help="refuse the download unless it has this SHA-256")
    published.add_argument("--url", help="download from here instead of the published project's link")
    published.add_argument("--keep-pickle", action="store_true", help="keep model.pkl beside the converted file")
    published.add_argument("--scene-type", default="kissing")

    reference = commands.add_parser("import-reference-model", help="convert the published model.pkl safely")
    reference.add_argument("pickle", type=Path)
    reference.add_argument("-o", "--output", type=Path, required=True)
    reference.add_argument("--scene-type", default="kissing")
    return parser


def _backbones_option(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument(
        "--backbones", choices=[*SET_NAMES, "auto"], default=default,
        help=f"backbone set (auto = the first of {', '.join(AUTO_ORDER)} whose weights are present; "
        f"{', '.join(MODEL_FILE_SETS)} needs --model)",
    )


def _device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda (default: CUDA when available)")


def _data_options(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--clips", type=Path, help="CSV of path,label (1 = the scene, 0 = not)")
    data.add_argument("--spans", type=Path, help="CSV of path,start_s,end_s,label")


@contextmanager
def progress_bar(description: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress(done, total) callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(desc=description, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def emit(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=json_default)
    sys.stdout.write("\n")
    sys.stdout.flush()


def scene_settings(args: argparse.Namespace) -> dict[str, Any]:
    """min_frames and threshold: what the command line says, else the chosen preset's."""
    preset = PRESETS[args.preset]
    return {
        "min_frames": preset.min_frames if args.min_frames is None else args.min_frames,
        "threshold": preset.threshold if args.threshold is None else args.threshold,
    }


def cmd_detect(args: argparse.Namespace) -> int:
    from detector.api import detect

    if args.model is None:
        print(NO_MODEL_HELP, file=sys.stderr)
        return EXIT_NO_MODEL
    with progress_bar("detect", "s") as progress:
        result = detect(
            args.video, model=args.model, backbones=args.backbones, cut=args.cut,
            **scene_settings(args), device=args.device, progress=progress, decoder=args.decoder,
        )
    emit(result.to_json())
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from detector.embed import embed_video

    with progress_bar("embed", "s") as progress:
        emb = embed_video(
            args.video, backbones=args.backbones, model=args.model, device=args.device,
            random_init=True if args.random_init else None, progress=progress,
        )
    output = args.output if args.output.suffix == ".npz" else args.output.with_name(args.output.name + ".npz")
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez(output, image=emb.image, audio=emb.audio, times_s=emb.times_s)
    if emb.audio_warning:
        print(f"warning: {emb.audio_warning}", file=sys.stderr)
    emit({
        "output": str(output), "windows": int(emb.times_s.size), "image_dim": int(emb.image.shape[1]),
        "audio_dim": int(emb.audio.shape[1]), "backbone_set": emb.backbone_set,
        "backbone_digest": emb.backbone_digest, "duration_s": emb.duration_s, "timings_s": emb.timings_s,
        "audio_warning": emb.audio_warning,
    })
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from detector.head import save_model
    from detector.train import train_from_csv

    with progress_bar("embed clips", "clip") as embed_progress, progress_bar("train", "epoch") as train_progress:
        model, metrics = train_from_csv(
            args.clips or args.spans, spans=args.spans is not None, backbones=args.backbones,
            scene_type=args.scene_type, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
            cache_dir=args.cache_dir, random_init=args.random_init, device=args.device,
            embed_progress=embed_progress, train_progress=train_progress, recipe=args.recipe, audio=args.audio,
            looks=None if args.looks is None else [name for name in args.looks.split(",") if name],
        )
    written = save_model(model, args.output)
    for warning in metrics.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    emit({"model": str(written), "backbone_set": model.card["backbone_set"], "metrics": metrics})
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from detector.head import load_model
    from detector.evaluate import evaluate_from_csv

    model = load_model(args.model)
    with progress_bar("embed clips", "clip") as progress:
        metrics = evaluate_from_csv(
            args.clips or args.spans, model, spans=args.spans is not None, cache_dir=args.cache_dir,
            device=args.device, cut=args.cut, progress=progress,
        )
    emit(metrics)
    return 0


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    from detector.weights import fetch_weights

    with progress_bar("fetch-weights", "B") as progress:
        result = fetch_weights(args.backbones, progress=progress)
    emit(result if isinstance(result, (dict, list)) else {"result": str(result)})
    return 0


def cmd_fetch_published_model(args: argparse.Namespace) -> int:
    from detector.fetch import PUBLISHED_MODEL_URL, fetch_published_model
    from detector.head import card_path, load_model
    from detector.weights import weights_dir

    directory = args.output_dir if args.output_dir is not None else weights_dir()
    with progress_bar("fetch-published-model", "B") as bar:
        def progress(stage: str, done: int, total: int) -> None:
            if stage == "download":
                bar(done, total)
            elif done == 0:
                print(f"{stage}...", file=sys.stderr)

        written = fetch_published_model(
            directory, url=args.url or PUBLISHED_MODEL_URL, expected_sha256=args.sha256, scene_type=args.scene_type,
            keep_pickle=args.keep_pickle, progress=progress,
        )
    model = load_model(written)
    emit({"model": str(written), "card": str(card_path(written)), "backbone_set": model.backbone_set,
          "backbone_digest": model.backbone_digest, "download": model.card["training"].get("download")})
    return 0


def cmd_import_reference_model(args: argparse.Namespace) -> int:
    from detector.head import card_path, load_model
    from detector.reference import import_reference_file

    written = import_reference_file(args.pickle, args.output, scene_type=args.scene_type)
    emit({"model": str(written), "card": str(card_path(written)), "card_contents": load_model(written).card})
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "detect": cmd_detect,
    "embed": cmd_embed,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "fetch-weights": cmd_fetch_weights,
    "fetch-published-model": cmd_fetch_published_model,
    "import-reference-model": cmd_import_reference_model,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    from detector.errors import DetectorError

    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
