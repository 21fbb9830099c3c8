"""deploy/kubernetes/: valid against the Kubernetes API schemas (offline), and consistent with the
service (probes, ports, the proxy's configuration, selectors, hardening)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
sys.path.insert(0, str(ROOT))


def documents() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


def find(kind: str, name: str) -> dict:
    (doc,) = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def container(deployment: str) -> dict:
    (c,) = find("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return c


def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    kv = pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate (the schemas, offline) is not installed: pip install -e '.[test]'",
    )
    version = kv.latest_version()
    for name, doc in documents():
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as e:  # pragma: no cover - the message is the point
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {e.message} at {list(e.path)}")


def test_the_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_service_is_probed_on_healthz_and_readyz_on_the_port_it_binds():
    mgi = container("mgi")
    env = {e["name"]: e.get("value") for e in mgi["env"]}
    port = int(env["MGI_BIND"].rsplit(":", 1)[1])
    assert [p["containerPort"] for p in mgi["ports"] if p["name"] == "http"] == [port]
    assert mgi["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert mgi["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert mgi["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert env["MGI_DEV_MODE"] == "0" and "MGI_API_KEYS" not in env
    assert int(env["MGI_WORKERS"]) >= 1  # gunicorn would count the node's cores, not the CPU limit


def test_the_keys_come_from_the_secret_and_the_shipped_secret_starts_nothing():
    mgi = container("mgi")
    env = {e["name"]: e.get("value") for e in mgi["env"]}
    mount = next(m for m in mgi["volumeMounts"] if m["name"] == "keys")
    assert env["MGI_API_KEYS_FILE"] == mount["mountPath"] + "/keys.yaml"
    volumes = find("Deployment", "mgi")["spec"]["template"]["spec"]["volumes"]
    assert next(v for v in volumes if v["name"] == "keys")["secret"]["secretName"] == "mgi-api-keys"
    key_file = find("Secret", "mgi-api-keys")["stringData"]["keys.yaml"]
    assert yaml.safe_load(key_file) == {
        "keys": []
    }  # to be filled in; without a key the service refuses to start


@pytest.mark.parametrize("deployment", ["mgi", "mgi-proxy"])
def test_pods_run_unprivileged_on_a_read_only_root(deployment):
    pod = find("Deployment", deployment)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    assert pod["automountServiceAccountToken"] is False
    sc = container(deployment)["securityContext"]
    assert sc == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container(deployment)["resources"]["limits"].keys() == {"cpu", "memory"}


def test_the_proxy_runs_the_shipped_nginx_configuration():
    from scripts.render_proxy_configmap import FILES, render

    assert (K8S / "proxy-configmap.yaml").read_text() == render(), (
        "deploy/nginx/ changed: run .venv/bin/python scripts/render_proxy_configmap.py"
    )
    data = find("ConfigMap", "mgi-proxy-nginx")["data"]
    assert {key: path.read_text() for key, path in FILES.items()} == data
    # The upstream names the Service and its port.
    service = find("Service", "mgi")
    assert (
        f"server {service['metadata']['name']}:{service['spec']['ports'][0]['port']};"
        in data["mgi-upstream.conf"]
    )
    nginx = container("mgi-proxy")
    ports = {p["name"]: p["containerPort"] for p in nginx["ports"]}
    assert (
        f"listen {ports['https']} ssl;" in data["mgi.conf"] and f"listen {ports['http']};" in data["mgi.conf"]
    )
    mounts = {m["mountPath"]: m for m in nginx["volumeMounts"]}
    assert {"/etc/nginx/nginx.conf", "/etc/nginx/conf.d", "/etc/nginx/tls", "/tmp"} <= mounts.keys()


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    ("kind", "name", "deployment"),
    [
        ("Service", "mgi", "mgi"),
        ("Service", "mgi-proxy", "mgi-proxy"),
        ("PodDisruptionBudget", "mgi", "mgi"),
        ("PodDisruptionBudget", "mgi-proxy", "mgi-proxy"),
        ("NetworkPolicy", "mgi-service", "mgi"),
        ("NetworkPolicy", "mgi-proxy", "mgi-proxy"),
    ],
)
def test_selectors_pick_the_right_pods(kind, name, deployment):
    doc = find(kind, name)
    selector = doc["spec"].get("selector") or doc["spec"]["podSelector"]
    selector = selector.get("matchLabels", selector)
    labels = find("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
    other = find("Deployment", "mgi-proxy" if deployment == "mgi" else "mgi")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert _selects(selector, labels) and not _selects(selector, other)


def test_the_service_takes_connections_from_the_proxy_only_and_opens_none():
    policy = find("NetworkPolicy", "mgi-service")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"] and policy["egress"] == []
    (rule,) = policy["ingress"]
    (source,) = rule["from"]
    proxy_labels = find("Deployment", "mgi-proxy")["spec"]["template"]["metadata"]["labels"]
    assert _selects(source["podSelector"]["matchLabels"], proxy_labels)
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_the_autoscaler_scales_the_service_and_keeps_two_replicas():
    hpa = find("HorizontalPodAutoscaler", "mgi")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mgi"}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert find("PodDisruptionBudget", "mgi")["spec"]["minAvailable"] < hpa["minReplicas"]
