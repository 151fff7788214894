#!/usr/bin/env bash
# The device check, one command: NVDEC tests, then the GPU benchmarks (bench/gpu/bench.py), on a bare CUDA machine
# with Python 3.12, torch, torchvision, numpy and opencv. Builds nothing and needs no internet: everything else comes
# as wheels (bench/gpu/wheels.txt), at most 40 MB per step, staged into one temporary folder:
#   bash bench/gpu/run.sh WHEELS_DIR --stage-only     # steps 1 and 2: copy this step's wheels, install nothing
#   bash bench/gpu/run.sh WHEELS_DIR                  # last step: stage, install, test, benchmark
# Results go to $OUT (default /tmp/kissweb-gpu/out). The last line: single_x=... library_x=... films=... device=...
set -uo pipefail
cd "$(dirname "$0")/../.."
WHEELS="${1:?usage: bash bench/gpu/run.sh WHEELS_DIR [--stage-only]}"
WORK=/tmp/kissweb-gpu
STAGE="$WORK/wheels" SITE="$WORK/site"
OUT="${OUT:-$WORK/out}"
mkdir -p "$STAGE" "$SITE" "$OUT"
cp "$WHEELS"/*.whl "$STAGE"/ 2>/dev/null
echo "staged: $(ls "$STAGE" | tr '\n' ' ')"
[[ "${2:-}" == "--stage-only" ]] && exit 0

PY="${PYTHON:-python3}"
# Install (unzip) each staged wheel whose module the machine lacks; a wheel is a zip laid out as site-packages.
"$PY" - "$STAGE" "$SITE" <<'PYEOF' || exit 1
import importlib.util, pathlib, sys, zipfile
stage, site = map(pathlib.Path, sys.argv[1:3])
modules = {"av": "av", "torchaudio": "torchaudio", "pytest": "pytest", "pluggy": "pluggy", "iniconfig": "iniconfig",
           "packaging": "packaging", "imageio_ffmpeg": "imageio_ffmpeg", "pynvvideocodec": "PyNvVideoCodec"}
for wheel in sorted(stage.glob("*.whl")):
    module = modules.get(wheel.name.split("-")[0].lower(), wheel.name.split("-")[0])
    if importlib.util.find_spec(module) is not None:
        print(f"present: {module}")
        continue
    zipfile.ZipFile(wheel).extractall(site)
    print(f"installed: {wheel.name}")
for exe in (site / "imageio_ffmpeg" / "binaries").glob("ffmpeg*"):
    exe.chmod(0o755)
PYEOF
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
"$PY" -c "import torch, torchvision, av, imageio_ffmpeg, PyNvVideoCodec as n; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'torchvision', torchvision.__version__, 'av', av.__version__, 'ffmpeg', imageio_ffmpeg.get_ffmpeg_version(), 'PyNvVideoCodec', getattr(n, '__version__', '?'))" 2>&1 | tee -a "$OUT/device.txt"
nproc | sed 's/^/cpus /' | tee -a "$OUT/device.txt"

echo "== tests (NVDEC on this device, and the CPU-side decode tests) =="
timeout "${KISSWEB_GPU_TEST_TIMEOUT_S:-240}" "$PY" -m pytest -q -s -c bench/gpu/pytest.ini --rootdir . \
    tests/detector/test_nvdec.py tests/detector/test_decode_backends.py 2>&1 | tee "$OUT/tests.log" | tail -40
echo "tests exit ${PIPESTATUS[0]}"

echo "== benchmarks =="
timeout "${KISSWEB_GPU_BENCH_TIMEOUT_S:-420}" "$PY" bench/gpu/bench.py --out "$OUT" ${KISSWEB_GPU_BENCH_ARGS:-} \
    2>&1 | tee "$OUT/bench.log" | grep -v "^single_x="
echo "bench exit ${PIPESTATUS[0]}"
grep "^single_x=" "$OUT/bench.log" || echo "single_x=n/a library_x=n/a films=0 device=$(head -1 "$OUT/device.txt" | cut -d, -f1 | tr ' ' _)"
