"""The Helm chart, rendered by Helm's own Go engine (helm-python-sdk, no cluster) and every
manifest validated against the Kubernetes API schemas (kubernetes-validate, strict)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart, HelmRenderError, HelmValuesError, lint

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "speaker"
EXAMPLES = sorted((CHART.parent / "examples").glob("*.yaml"))
KEY = "spk-test-admin-key-0123456789abcdef"
SCALE_OUT = {
    "replicaCount": 3,
    "secrets": {
        "adminKey": KEY,
        "databaseUrl": "postgresql+psycopg://speaker:pw@db:5432/speaker",
        "redisUrl": "redis://redis:6379/0",
    },
    "persistence": {"data": {"accessModes": ["ReadWriteMany"], "storageClass": "nfs"}},
}
# The Kubernetes release whose schemas the manifests must meet: the oldest one still supported
# upstream when the chart was written, so clusters a year behind install it too.
KUBERNETES = "1.32.0"
CORE_GROUPS = ("v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1")


@pytest.fixture(scope="module")
def chart() -> Iterator[Chart]:
    with Chart.load(CHART) as loaded:
        yield loaded


def render(chart: Chart, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Manifests by `Kind/name`, each validated against the Kubernetes schemas."""
    rendered = chart.render(values, name="voice", namespace="speech")
    manifests: dict[str, dict[str, Any]] = {}
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            if document["apiVersion"] in CORE_GROUPS:
                kubernetes_validate.validate(document, KUBERNETES, strict=True)
            manifests[f"{document['kind']}/{document['metadata']['name']}"] = document
    return manifests


def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod = manifests["Deployment/voice-speaker"]["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    return dict(only)


def env_of(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(manifests)["env"]}


def test_default_install_is_one_protected_pod_with_probes_and_drain(chart: Chart) -> None:
    manifests = render(chart, {"secrets": {"adminKey": KEY}})
    assert set(manifests) == {
        "Deployment/voice-speaker",
        "Service/voice-speaker",
        "ServiceAccount/voice-speaker",
        "Secret/voice-speaker",
        "PersistentVolumeClaim/voice-speaker-data",
    }
    # One pod on SQLite and an RWO volume: the old one stops before the new one starts.
    assert manifests["Deployment/voice-speaker"]["spec"]["strategy"] == {"type": "Recreate"}
    pod = manifests["Deployment/voice-speaker"]["spec"]["template"]["spec"]
    # Drain timeout (30 s) plus the margin: Kubernetes must not kill a draining pod.
    assert pod["terminationGracePeriodSeconds"] == 45
    assert pod["securityContext"]["runAsUser"] == 10001
    speaker = container(manifests)
    assert speaker["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert speaker["livenessProbe"]["httpGet"]["path"] == "/health"
    assert speaker["startupProbe"]["httpGet"]["path"] == "/ready"
    assert speaker["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in speaker["volumeMounts"]} == {"/data", "/models", "/tmp"}
    env = env_of(manifests)
    assert env["SPEAKER_HOST"] == "0.0.0.0"
    assert env["SPEAKER_DRAIN_TIMEOUT_S"] == "30"
    assert "SPEAKER_ADMIN_KEY" not in env, "the key belongs in the Secret, not the pod spec"
    assert manifests["Secret/voice-speaker"]["stringData"] == {"SPEAKER_ADMIN_KEY": KEY}
    assert speaker["envFrom"] == [{"secretRef": {"name": "voice-speaker"}}]
    assert "nvidia.com/gpu" not in speaker["resources"].get("limits", {})


def test_drain_timeout_sets_the_grace_period(chart: Chart) -> None:
    manifests = render(chart, {"secrets": {"adminKey": KEY}, "drainTimeoutSeconds": 120})
    pod = manifests["Deployment/voice-speaker"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 135
    assert env_of(manifests)["SPEAKER_DRAIN_TIMEOUT_S"] == "120"


def test_gpu_values_request_the_gpu_and_the_cuda_image(chart: Chart) -> None:
    values = {
        "secrets": {"adminKey": KEY},
        "gpu": {"enabled": True},
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "persistence": {"models": {"enabled": True, "size": "40Gi"}},
    }
    manifests = render(chart, values)
    speaker = container(manifests)
    assert speaker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert speaker["resources"]["limits"]["memory"] == "3Gi"
    assert speaker["image"] == "speaker:0.1.0-cuda"
    pod = manifests["Deployment/voice-speaker"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    models = manifests["PersistentVolumeClaim/voice-speaker-models"]
    assert models["spec"]["resources"]["requests"]["storage"] == "40Gi"


def test_scale_out_with_queue_depth_autoscaling_and_a_disruption_budget(chart: Chart) -> None:
    values = {
        **SCALE_OUT,
        "autoscaling": {"enabled": True, "metric": "queueDepth", "targetQueueDepth": 3},
        "podDisruptionBudget": {"enabled": True},
    }
    manifests = render(chart, values)
    deployment = manifests["Deployment/voice-speaker"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    hpa = manifests["HorizontalPodAutoscaler/voice-speaker"]["spec"]
    (metric,) = hpa["metrics"]
    assert metric["pods"]["metric"]["name"] == "speaker_queue_depth"
    assert metric["pods"]["target"]["averageValue"] == "3"
    assert manifests["PodDisruptionBudget/voice-speaker"]["spec"]["minAvailable"] == 1
    secret = manifests["Secret/voice-speaker"]["stringData"]
    assert set(secret) == {"SPEAKER_ADMIN_KEY", "SPEAKER_DATABASE_URL", "SPEAKER_REDIS_URL"}
    data = manifests["PersistentVolumeClaim/voice-speaker-data"]["spec"]
    assert data["accessModes"] == ["ReadWriteMany"]
    assert env_of(manifests)["SPEAKER_REPLICA_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_cpu_autoscaling(chart: Chart) -> None:
    manifests = render(chart, {**SCALE_OUT, "autoscaling": {"enabled": True}})
    (metric,) = manifests["HorizontalPodAutoscaler/voice-speaker"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == 70


def test_ingress_wyoming_existing_secret_and_service_monitor(chart: Chart) -> None:
    values = {
        "secrets": {"existingSecret": "speaker-secrets"},
        "wyoming": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
            "hosts": [{"host": "tts.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "tts-tls", "hosts": ["tts.example.org"]}],
        },
    }
    manifests = render(chart, values)
    assert "Secret/voice-speaker" not in manifests
    assert container(manifests)["envFrom"] == [{"secretRef": {"name": "speaker-secrets"}}]
    assert env_of(manifests)["SPEAKER_WYOMING_URI"] == "tcp://0.0.0.0:10200"
    ports = {p["name"]: p["port"] for p in manifests["Service/voice-speaker"]["spec"]["ports"]}
    assert ports == {"http": 8000, "wyoming": 10200}
    rule = manifests["Ingress/voice-speaker"]["spec"]["rules"][0]
    assert rule["host"] == "tts.example.org"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "voice-speaker"
    monitor = manifests["ServiceMonitor/voice-speaker"]["spec"]
    assert monitor["endpoints"][0]["path"] == "/metrics"


def test_the_example_values_files_render_valid_manifests(chart: Chart) -> None:
    # deploy/README.md installs with these files: they must render, and keep secrets out.
    assert [path.name for path in EXAMPLES] == ["gpu.yaml", "scale.yaml"]
    rendered = {}
    for path in EXAMPLES:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(values["secrets"]) == {"existingSecret"}, path.name
        rendered[path.stem] = render(chart, values)

    gpu = rendered["gpu"]
    speaker = container(gpu)
    assert speaker["image"] == "registry.example.com/speaker:0.1.0-cuda"
    assert speaker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert (
        speaker["startupProbe"]["failureThreshold"] * speaker["startupProbe"]["periodSeconds"]
        == 1800
    )
    assert env_of(gpu)["SPEAKER_ENGINES"] == "csm"
    assert "PersistentVolumeClaim/voice-speaker-models" in gpu

    scale = rendered["scale"]
    (metric,) = scale["HorizontalPodAutoscaler/voice-speaker"]["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "speaker_queue_depth"
    annotations = scale["Ingress/voice-speaker"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    (endpoint,) = scale["ServiceMonitor/voice-speaker"]["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "speaker-scrape-key", "key": "key"},
    }
    assert "SPEAKER_METRICS_PUBLIC" not in env_of(scale), "the Ingress would publish /metrics"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "refuses to start without an API key"),
        ({"secrets": {"adminKey": KEY}, "replicaCount": 2}, "share PostgreSQL and Redis"),
        (
            {**SCALE_OUT, "persistence": {"data": {"accessModes": ["ReadWriteOnce"]}}},
            "ReadWriteMany",
        ),
        (
            {"secrets": {"adminKey": KEY}, "env": {"SPEAKER_DRAIN_TIMEOUT_S": "120"}},
            "env.SPEAKER_DRAIN_TIMEOUT_S is set by the chart.*use drainTimeoutSeconds",
        ),
        (
            {"secrets": {"adminKey": KEY}, "env": {"SPEAKER_HOST": "127.0.0.1"}},
            "env.SPEAKER_HOST is set by the chart",
        ),
        (
            {"secrets": {"adminKey": KEY}, "podDisruptionBudget": {"enabled": True}},
            "node drains and cluster upgrades would block",
        ),
        (
            {
                **SCALE_OUT,
                "autoscaling": {"enabled": True, "minReplicas": 2},
                "podDisruptionBudget": {"enabled": True, "minAvailable": "100%"},
            },
            "node drains and cluster upgrades would block",
        ),
        (
            {**SCALE_OUT, "autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}},
            "minReplicas must not exceed",
        ),
    ],
)
def test_setups_that_cannot_run_fail_at_render_time(
    chart: Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmRenderError, match=message):
        chart.render(values, name="voice", namespace="speech")


def test_auth_off_renders_without_a_key(chart: Chart) -> None:
    manifests = render(chart, {"env": {"SPEAKER_AUTH": "off"}})
    assert env_of(manifests)["SPEAKER_AUTH"] == "off"


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": "two"},
        {"autoscaling": {"metric": "memory"}},
        {"secrets": {"adminKey": "short"}},
        {"env": {"SPEAKER_ADMIN_KEY": KEY}},
        {"env": {"PATH": "/tmp"}},
        {"persistence": {"data": {"size": "ten gigs"}}},
        {"gpu": {"enabled": True, "count": 0}},
        {"drainTimeoutSeconds": 7200},
        {"unknownKey": True},
    ],
)
def test_schema_rejects_bad_values(chart: Chart, values: dict[str, Any]) -> None:
    with pytest.raises(HelmValuesError):
        chart.render({"secrets": {"adminKey": KEY}} | values, name="voice", namespace="speech")


def test_helm_lint_is_clean() -> None:
    report = lint(CHART, {"secrets": {"adminKey": KEY}}, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
