"""docker-compose cannot run here (no Docker engine), so its coherence is checked by reading it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
NGINX = (REPO / "deploy" / "nginx.conf").read_text()


def _env(service: str) -> dict:
    return COMPOSE["services"][service]["environment"]


def test_compose_has_the_services_of_the_design():
    assert {"postgres", "redis", "web", "worker", "nginx", "migrate"} <= set(COMPOSE["services"])


def test_workers_scale_and_share_database_broker_and_media_with_web():
    web, worker = COMPOSE["services"]["web"], COMPOSE["services"]["worker"]
    assert worker["command"] == ["python", "manage.py", "qcluster"]
    assert "container_name" not in worker and "ports" not in worker  # `--scale worker=N` must work
    for key in ("DATABASE_URL", "REDIS_URL", "KISSWEB_DATA_DIR", "DJANGO_SECRET_KEY"):
        assert _env("web")[key] == _env("worker")[key]
    assert web["volumes"] == worker["volumes"] == ["media:/data"]
    assert "media:/data:ro" in COMPOSE["services"]["nginx"]["volumes"]


def test_nginx_serves_the_accel_redirect_prefix_from_the_media_volume():
    prefix = _env("web")["KISSWEB_ACCEL_REDIRECT_PREFIX"]
    block = re.search(rf"location {re.escape(prefix)}/ \{{(.*?)\}}", NGINX, re.S)
    assert block, f"nginx has no location for {prefix}/"
    assert "internal;" in block.group(1)
    assert f"alias {_env('web')['KISSWEB_DATA_DIR']}/media/;" in block.group(1)
    assert "proxy_pass http://kissweb_web;" in NGINX and "server web:8000;" in NGINX


def test_production_settings_and_secrets_are_required():
    assert _env("web")["DJANGO_SETTINGS_MODULE"] == "kissweb.settings.production"
    assert ":?" in _env("web")["DJANGO_SECRET_KEY"]  # compose refuses to start without it


def test_every_kissweb_variable_in_compose_is_read_by_the_code():
    code = "\n".join(p.read_text() for p in (REPO / "kissweb").rglob("*.py"))
    for name in _env("web"):
        if name.startswith(("KISSWEB_", "DJANGO_")) and name != "DJANGO_SETTINGS_MODULE":
            assert f'"{name}"' in code, f"{name} is set in docker-compose.yml but nothing reads it"


GPU_WORKER_SETTINGS = {"KISSWEB_WORKERS", "KISSWEB_DECODER", "KISSWEB_NVDEC_DECODERS", "KISSWEB_GPU_MEMORY_FRACTION"}


def test_the_gpu_worker_takes_analyses_with_nvdec_on_an_nvidia_runtime():
    gpu = COMPOSE["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["runtime"] == "nvidia"
    assert gpu["build"]["args"]["INSTALL_GPU"] == "1" and "requirements-gpu.txt" in (REPO / "Dockerfile").read_text()
    assert "KISSWEB_WORKER_QUEUE" not in gpu["environment"]  # the analyses' queue
    assert GPU_WORKER_SETTINGS <= set(gpu["environment"])
    assert (REPO / "requirements-gpu.txt").read_text().count("PyNvVideoCodec==2.2.4") == 1


def test_every_queue_has_a_worker_service_sharing_the_app_environment():
    from django.conf import settings

    served = {}
    for name, service in COMPOSE["services"].items():
        if service.get("command") == ["python", "manage.py", "qcluster"]:
            own = {"KISSWEB_WORKER_QUEUE"} | (GPU_WORKER_SETTINGS if name == "worker-gpu" else set())
            if "profiles" not in service:  # an optional worker (the GPU one) serves a queue another also serves
                served[service["environment"].get("KISSWEB_WORKER_QUEUE", "work")] = name
            assert {k: v for k, v in service["environment"].items() if k not in own} == _env("web")
            assert service["volumes"] == ["media:/data"]
    assert set(served) == set(settings.KISSWEB_QUEUES), served
    assert served["work"] == "worker"  # `--scale worker=N` scales the analyses


def test_every_package_with_weights_is_pinned_where_its_install_command_says():
    """A set's weights come from a pinned package; mediapipe's declared needs fight the pins, so it is installed
    from requirements-nodeps.txt with --no-deps, by ./kiss and by the image alike."""
    from detector.backbones import SETS, PackageWeights

    packaged = {w for info in SETS.values() for w in info.weight_files if isinstance(w, PackageWeights)}
    assert len(packaged) >= 3
    for weights in packaged:
        requirements = weights.install.split(" -r ")[-1]
        pins = (REPO / requirements).read_text().splitlines()
        assert weights.requirement in pins, f"{weights.requirement} is not pinned in {requirements}"
    nodeps = "--no-deps -r requirements-nodeps.txt"
    assert nodeps in (REPO / "kiss").read_text() and nodeps in (REPO / "Dockerfile").read_text()
    assert "requirements-nodeps.txt" in (REPO / "kiss").read_text().split("want=")[1].split("\n")[0]  # in the stamp
