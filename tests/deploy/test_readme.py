"""deploy/README.md: the files its commands name exist, and its compose commands name profiles
and services that the compose file has."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
README = ROOT / "deploy" / "README.md"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"


def test_every_deploy_path_in_the_readme_exists() -> None:
    text = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"deploy/[\w./-]+\w", text))
    assert "deploy/helm/examples/gpu.yaml" in paths
    # .env files are the user's, git-ignored: named, never shipped.
    missing = sorted(p for p in paths if not (ROOT / p).exists() and not p.endswith(".env"))
    assert missing == []


def test_compose_commands_name_real_profiles_and_services() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    profiles = {p for service in services.values() for p in service.get("profiles", [])}
    commands = [
        line for line in README.read_text(encoding="utf-8").splitlines() if "docker compose" in line
    ]
    named = {m for line in commands for m in re.findall(r"--profile (\w+)", line)}
    assert named == profiles == {"scale", "monitoring", "gpu"}
    for line in commands:
        # `up … speaker-gpu`, `run --rm speaker-gpu …`: a service name after the options.
        for word in re.findall(r"\b(speaker-[\w-]+)\b", line):
            assert word in services, line
