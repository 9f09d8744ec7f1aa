"""The monitoring stack in deploy/: compose file, image, Prometheus, Grafana, dashboard.

Docker does not run in CI, so the files are checked for what can be checked without it: the
compose file against the Compose Specification's JSON schema, the wiring between the files
(ports, service names, mount paths), Prometheus' config and every dashboard expression with
promtool, and each metric the dashboard reads against a live /metrics page after real speech.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import LiveServer
from tests.deploy.promql import (
    dashboard_metric_names,
    exposed_series_names,
    expressions,
    metric_names,
    missing_names,
    panels,
    variable_metric_names,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "speaker.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "speaker.json"

# These exist only where an engine runs on CUDA (the collector reads torch.cuda at scrape time),
# so a CPU-only test server cannot show them. The dashboard still plots them for GPU hosts.
GPU_ONLY_METRICS = frozenset(
    {
        "speaker_gpu_memory_allocated_bytes",
        "speaker_gpu_memory_reserved_bytes",
        "speaker_gpu_utilization_ratio",
    }
)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _service(name: str) -> dict[str, Any]:
    return _yaml(COMPOSE)["services"][name]


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port, short or long form."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        ports.append((host_ip, int(parts[-2]) if len(parts) > 1 else 0, int(parts[-1])))
    return ports


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of each bind mount (relative to the compose file)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (COMPOSE.parent / source).resolve()
    return mounts


def _named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _require_promtool() -> str:
    """promtool's path; CI installs it (Debian's `prometheus`), elsewhere the test skips."""
    path = shutil.which("promtool")
    if path:
        return path
    message = "promtool is not installed (apt-get install prometheus)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# --- compose


def test_compose_file_follows_the_compose_specification() -> None:
    # check-jsonschema ships the Compose Specification's schema: no network at test time.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_publishes_every_port_on_loopback_only() -> None:
    services = _yaml(COMPOSE)["services"]
    for name, service in services.items():
        for host_ip, _, _ in _published(service):
            # Without an address Docker publishes on every interface, past host firewalls.
            assert host_ip == "127.0.0.1", f"{name} publishes beyond loopback"
    assert (("127.0.0.1", 8012, 8000)) in _published(services["speaker"])
    assert (("127.0.0.1", 3333, 3000)) in _published(services["grafana"])
    assert [port for _, port, _ in _published(services["prometheus"])] == [9090]


def test_speaker_turns_auth_off_explicitly_and_keeps_its_data() -> None:
    speaker = _service("speaker")
    # A string default: YAML 1.1 reads a bare `off` as false, which the setting would reject.
    assert speaker["environment"]["SPEAKER_AUTH"] == "${SPEAKER_AUTH:-off}"
    assert speaker["environment"]["SPEAKER_METRICS_ENABLED"] == "true"
    assert _named_volumes(speaker) == {"/data": "speaker-data"}
    build = speaker["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    assert "speaker-data" in _yaml(COMPOSE)["volumes"]


def test_prometheus_and_grafana_mount_the_files_in_deploy() -> None:
    prometheus = _service("prometheus")
    assert _bind_mounts(prometheus) == {"/etc/prometheus/prometheus.yml": PROMETHEUS}
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert _named_volumes(prometheus) == {"/prometheus": "prometheus-data"}

    grafana = _service("grafana")
    mounts = _bind_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"
    dashboards = next(target for target, host in mounts.items() if host == DASHBOARD.parent)
    assert _named_volumes(grafana) == {"/var/lib/grafana": "grafana-data"}
    for host in mounts.values():
        assert host.exists(), host
    # The provider reads the dashboards where compose mounts them, and the home page is ours.
    provider = _yaml(PROVIDERS)["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == dashboards
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards}/{DASHBOARD.name}"


def test_prometheus_scrapes_the_speaker_service_metrics() -> None:
    config = _yaml(PROMETHEUS)
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "speaker"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job.get("scheme", "http") == "http"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    container_port = _published(_service("speaker"))[0][2]
    assert targets == [f"speaker:{container_port}"]
    # With keys on, the scrape key is shown (commented) where to put it.
    assert "credentials_file: /etc/prometheus/speaker-key" in PROMETHEUS.read_text()


def test_prometheus_config_passes_promtool() -> None:
    promtool = _require_promtool()
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_data_source_points_at_the_prometheus_service() -> None:
    (source,) = _yaml(DATASOURCES)["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == f"http://prometheus:{_published(_service('prometheus'))[0][2]}"
    assert source["isDefault"] is True
    # $__rate_interval is computed from it: it must be Prometheus' scrape interval.
    assert source["jsonData"]["timeInterval"] == _yaml(PROMETHEUS)["global"]["scrape_interval"]
    variable = next(v for v in _dashboard()["templating"]["list"] if v["type"] == "datasource")
    assert variable["current"]["value"] == source["uid"]


# --- image


def test_dockerfile_builds_a_non_root_image_serving_on_the_compose_port() -> None:
    instructions = _dockerfile()
    args = {
        rest.split("=")[0]: rest.split("=", 1)[1] for kind, rest in instructions if kind == "ARG"
    }
    images = [rest.split()[0] for kind, rest in instructions if kind == "FROM"]
    assert {args.get(image.strip("${}"), image) for image in images} == {"python:3.11-slim"}
    users = [rest for kind, rest in instructions if kind == "USER"]
    assert users, "the server must not run as root"
    assert users[-1] not in {"root", "0"}
    env = " ".join(rest for kind, rest in instructions if kind == "ENV")
    assert "SPEAKER_DATA_DIR=/data" in env
    assert ("VOLUME", '["/data"]') in instructions
    (cmd,) = [json.loads(rest) for kind, rest in instructions if kind == "CMD"]
    container_port = _published(_service("speaker"))[0][2]
    assert cmd == ["speaker", "serve", "--host", "0.0.0.0", "--port", str(container_port)]
    (healthcheck,) = [rest for kind, rest in instructions if kind == "HEALTHCHECK"]
    # python, not curl: the slim image has no curl.
    assert '"python"' in healthcheck
    assert f"http://127.0.0.1:{container_port}/health" in healthcheck


def test_dockerignore_lets_in_only_what_the_image_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Everything out, then an allow-list: .env, .venv, .git and data never reach the daemon.
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for kind, rest in _dockerfile():
        if kind == "COPY" and not rest.startswith("--from"):
            copied.update(source.rstrip("/").removeprefix("./") for source in rest.split()[:-1])
    assert copied == allowed
    for source in copied:
        assert (ROOT / source).exists(), source


def test_a_non_editable_install_carries_every_file_the_server_reads(tmp_path: Path) -> None:
    """The image runs `pip install .`: package data must be declared, or the image lacks it."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src"
    expected = {
        path.relative_to(package).as_posix()
        for path in (package / "speaker").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert expected - packaged == set()


# --- dashboard


def test_every_dashboard_panel_has_a_prometheus_data_source_and_queries() -> None:
    dashboard = _dashboard()
    found = list(panels(dashboard))
    assert len(found) >= 20
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert {"datasource", "instance"} <= set(variables)
    # 'All' must expand to the Speaker instances found, not to `.*`: process_* metrics are
    # exposed by every job, Prometheus' own included, and would be summed in.
    assert "allValue" not in variables["instance"]
    for panel in found:
        title = panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, title
        assert panel["targets"], title
        for target in panel["targets"]:
            assert target["expr"].strip(), title
            assert target["datasource"] == panel["datasource"], title
            # Every query follows the replica picker, so one replica can be looked at alone.
            assert 'instance=~"$instance"' in target["expr"], title
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, title


def test_dashboard_covers_what_an_operator_looks_for() -> None:
    used = set(dashboard_metric_names(_dashboard()))
    for name in (
        "speaker_realtime_factor_bucket",
        "speaker_time_to_first_audio_seconds_bucket",
        "speaker_stage_seconds_sum",
        "speaker_queue_depth",
        "speaker_refusals_total",
        "speaker_cache_events_total",
        "process_resident_memory_bytes",
        "speaker_http_requests_total",
        "speaker_audio_seconds_total",
        "speaker_batch_size_bucket",
        "speaker_jobs",
        "speaker_job_items",
        "speaker_worker_busy_seconds_total",
        "speaker_gpu_memory_allocated_bytes",
    ):
        assert name in used, name


def test_dashboard_reads_database_gauges_with_max_and_sums_the_rest() -> None:
    """Every replica reports the same job counts (read from the shared database): sum() would
    multiply them by the number of replicas."""
    for where, expression in expressions(_dashboard()):
        for name in ("speaker_jobs", "speaker_job_items"):
            if name in metric_names(expression):
                assert re.search(rf"\bmax\s*(by\s*\([^)]*\)\s*)?\(\s*{name}\b", expression), where
                assert "sum" not in expression, where


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = _require_promtool()
    # Grafana fills its variables in before Prometheus sees an expression; so does this.
    filled = {"$__rate_interval": "1m", "$instance": ".*"}
    rules = []
    for where, expression in expressions(_dashboard()):
        if where.startswith("variable"):
            continue
        for variable, value in filled.items():
            expression = expression.replace(variable, value)
        assert "$" not in expression, where
        # promtool names the failing rule: make that name say which panel and target it is.
        rules.append({"alert": re.sub(r"\W+", "_", where).strip("_"), "expr": expression})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_metric_is_exposed_by_a_live_server(server: LiveServer) -> None:
    for text in ("Hello there.", "A second request, so that every histogram has moved."):
        response = httpx.post(
            f"{server.url}/v1/audio/speech",
            json={"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"},
            timeout=60,
        )
        response.raise_for_status()
    scrape = httpx.get(f"{server.url}/metrics", timeout=30)
    scrape.raise_for_status()
    used = dashboard_metric_names(_dashboard())
    missing = missing_names(used, exposed_series_names(scrape.text), exempt=GPU_ONLY_METRICS)
    assert not missing, {name: sorted(used[name]) for name in missing}


# --- the checker itself


EXPOSITION = """\
# HELP speaker_requests_total Requests
# TYPE speaker_requests_total counter
speaker_requests_total{route="/v1/audio/speech"} 3.0
# HELP speaker_stage_seconds Stage times
# TYPE speaker_stage_seconds histogram
speaker_stage_seconds_bucket{stage="queue",le="0.1"} 1.0
speaker_stage_seconds_bucket{stage="queue",le="+Inf"} 1.0
speaker_stage_seconds_sum{stage="queue"} 0.01
speaker_stage_seconds_count{stage="queue"} 1.0
# HELP speaker_failures_total Failures, none yet
# TYPE speaker_failures_total counter
# HELP speaker_ready Ready
# TYPE speaker_ready gauge
speaker_ready 1.0
"""


def test_the_extractor_finds_metric_names_and_nothing_else() -> None:
    expression = (
        "histogram_quantile(0.95, sum by (le, stage) (rate(speaker_stage_seconds_bucket"
        '{stage=~"a|b", instance=~"$instance"}[$__rate_interval])))'
        "\n/ on (instance) group_left (version)"
        " max without (job) (speaker_ready offset 5m) * 1e3 > bool 0.5"
        ' or label_replace(speaker_other_total[5m:1m], "dst", "$1", "src", "(.*)")'
        ' unless {__name__="speaker_by_name"}'
    )
    assert metric_names(expression) == {
        "speaker_stage_seconds_bucket",
        "speaker_ready",
        "speaker_other_total",
        "speaker_by_name",
    }
    assert variable_metric_names("label_values(speaker_build_info, instance)") == {
        "speaker_build_info"
    }
    assert variable_metric_names("label_values(instance)") == set()


def test_the_checker_catches_names_a_server_does_not_expose() -> None:
    exposed = exposed_series_names(EXPOSITION)
    good = (
        "sum(rate(speaker_requests_total[1m])) + sum(rate(speaker_failures_total[1m]))"
        " + histogram_quantile(0.5, sum by (le) (rate(speaker_stage_seconds_bucket[1m])))"
        " + sum(rate(speaker_stage_seconds_sum[1m])) / sum(rate(speaker_stage_seconds_count[1m]))"
        " + speaker_ready"
    )
    assert missing_names(metric_names(good), exposed) == set()
    # A made-up metric, a counter without `_total`, a histogram without a series suffix, and a
    # suffix on a gauge are all queries that would plot nothing.
    bad = (
        'sum(rate(speaker_made_up_total{engine="piper"}[5m])) + speaker_requests'
        " + speaker_stage_seconds + speaker_ready_count"
    )
    assert missing_names(metric_names(bad), exposed) == {
        "speaker_made_up_total",
        "speaker_requests",
        "speaker_stage_seconds",
        "speaker_ready_count",
    }
    assert missing_names({"speaker_gpu_memory_allocated_bytes"}, exposed, GPU_ONLY_METRICS) == set()
