"""deploy/compose/compose.yaml: Speaker alone by default; profiles add replicas, monitoring, GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"


def services() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))[
        "services"
    ]
    return loaded


def started_by(profiles: set[str]) -> set[str]:
    """What `docker compose --profile …` starts: services with no profile, plus the named ones."""
    return {
        name
        for name, service in services().items()
        if not service.get("profiles") or profiles & set(service["profiles"])
    }


def test_speaker_runs_alone_by_default() -> None:
    assert started_by(set()) == {"speaker"}


def test_profiles_add_replicas_monitoring_and_gpu() -> None:
    assert started_by({"scale"}) == {"speaker", "speaker-2", "postgres", "redis"}
    assert started_by({"monitoring"}) == {"speaker", "prometheus", "grafana"}
    assert started_by({"gpu"}) == {"speaker", "speaker-gpu"}


def test_replicas_share_the_database_redis_and_data_volume() -> None:
    found = services()
    first, second = found["speaker"], found["speaker-2"]
    for key in ("SPEAKER_DATABASE_URL", "SPEAKER_REDIS_URL", "SPEAKER_ADMIN_KEY"):
        assert first["environment"][key] == second["environment"][key] == f"${{{key}:-}}"
    assert first["volumes"] == second["volumes"] == ["speaker-data:/data"]
    # Both wait for healthy servers when the scale profile runs them, and need none alone.
    for dependency in ("postgres", "redis"):
        assert first["depends_on"][dependency] == {
            "condition": "service_healthy",
            "required": False,
        }
        assert "healthcheck" in found[dependency]
    # The job queue lives in Redis: it must persist what it accepted.
    assert "--appendonly" in found["redis"]["command"]


def test_no_secret_is_written_in_the_file() -> None:
    postgres = services()["postgres"]["environment"]
    # Required from the environment, never defaulted to a password in the repository.
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    text = COMPOSE.read_text(encoding="utf-8")
    assert "spk-" not in text


def test_gpu_service_builds_the_cuda_image_and_reserves_a_gpu() -> None:
    gpu = services()["speaker-gpu"]
    assert gpu["build"]["dockerfile"] == "deploy/docker/Dockerfile.cuda"
    assert (ROOT / gpu["build"]["dockerfile"]).is_file()
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert gpu["environment"]["SPEAKER_MODELS_DIR"] == "/models"
    assert "speaker-models:/models" in gpu["volumes"]
