"""deploy/compose/compose.yaml: Speaker alone by default; profiles add replicas, monitoring, GPU."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
PROFILES = [set(), {"scale"}, {"monitoring"}, {"gpu"}, {"scale", "monitoring", "gpu"}]


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


def project_for(profiles: set[str]) -> dict[str, Any]:
    """The compose file as Compose sees it with these profiles on: other services dropped."""
    project: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    active = started_by(profiles)
    project["services"] = {k: v for k, v in project["services"].items() if k in active}
    return project


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
    found = services()
    # From the environment or deploy/compose/.env, never defaulted to a password here.
    assert found["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-}"
    grafana = found["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert grafana == "${GRAFANA_ADMIN_PASSWORD:-}"
    text = COMPOSE.read_text(encoding="utf-8")
    assert "spk-" not in text


def test_no_required_variable_blocks_the_default_profile() -> None:
    # Compose interpolates every service before it applies profiles: one `${VAR:?}` in the
    # scale profile would make a plain `docker compose up` fail on a variable it never uses.
    text = COMPOSE.read_text(encoding="utf-8")
    uncommented = "\n".join(
        line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    )
    assert re.findall(r"\$\{\w+:?\?", uncommented) == []


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(sorted(p)) or "default")
def test_each_profile_is_a_valid_compose_project(profiles: set[str], tmp_path: Path) -> None:
    project = project_for(profiles)
    active = set(project["services"])
    for name, service in project["services"].items():
        # A dependency outside the active profiles must be optional, or Compose refuses to start.
        depends_on = service.get("depends_on", {})
        if isinstance(depends_on, list):  # the short form: every one required
            depends_on = {key: {} for key in depends_on}
        for dependency, condition in depends_on.items():
            required = condition.get("required", True)
            assert dependency in active or not required, f"{name} needs {dependency}"
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in project["volumes"], f"{name}: volume {source} is not declared"
    # The Compose Specification's schema (check-jsonschema ships it: no network).
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(project), encoding="utf-8")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_rejects_a_broken_service(tmp_path: Path) -> None:
    project = project_for(set())
    project["services"]["speaker"]["stop_grace_period"] = {"seconds": 40}
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(project), encoding="utf-8")
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode != 0


def seconds(duration: str) -> float:
    """A Compose duration such as `1m30s` or `40s`, in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_docker_waits_longer_than_the_drain_before_killing() -> None:
    for name in ("speaker", "speaker-2", "speaker-gpu"):
        service = services()[name]
        drain = float(service["environment"]["SPEAKER_DRAIN_TIMEOUT_S"])
        assert seconds(service["stop_grace_period"]) > drain, name


def run_replica_command(env: dict[str, str], bin_dir: Path) -> subprocess.CompletedProcess[str]:
    """speaker-2's command through sh, as Docker runs it, with a stand-in `speaker` on PATH."""
    command = services()["speaker-2"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace("$$", "$")  # Compose's escape for a literal `$`
    return subprocess.run(
        ["sh", "-c", script],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_second_replica_refuses_to_start_without_the_shared_servers(tmp_path: Path) -> None:
    fake = tmp_path / "speaker"
    fake.write_text('#!/bin/sh\necho "speaker $*"\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    urls = {
        "SPEAKER_DATABASE_URL": "postgresql+psycopg://speaker:pw@postgres:5432/speaker",
        "SPEAKER_REDIS_URL": "redis://redis:6379/0",
    }
    refused = run_replica_command({"SPEAKER_DATABASE_URL": urls["SPEAKER_DATABASE_URL"]}, tmp_path)
    assert refused.returncode == 78
    assert "SPEAKER_REDIS_URL" in refused.stderr
    assert refused.stdout == ""
    started = run_replica_command(urls, tmp_path)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "speaker serve --host 0.0.0.0 --port 8000"


def test_gpu_service_builds_the_cuda_image_and_reserves_a_gpu() -> None:
    gpu = services()["speaker-gpu"]
    assert gpu["build"]["dockerfile"] == "deploy/docker/Dockerfile.cuda"
    assert (ROOT / gpu["build"]["dockerfile"]).is_file()
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    assert gpu["environment"]["SPEAKER_MODELS_DIR"] == "/models"
    assert gpu["environment"]["SPEAKER_ENGINES"] == "${SPEAKER_ENGINES:-csm}"
    assert "speaker-models:/models" in gpu["volumes"]
    # With no shared database and Redis, it must not share the CPU server's data.
    assert "speaker-gpu-data:/data" in gpu["volumes"]
    assert "speaker-data:/data" not in gpu["volumes"]
