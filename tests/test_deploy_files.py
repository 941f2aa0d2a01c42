"""Everything in deploy/ parses, and what can be checked offline is right."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bot.server import create_web_app  # noqa: F401  (the routes below are the server's)
from handlers.config import parse_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SCOPES = {
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "usergroups:read",
    "channels:read",
    "groups:read",
}
SERVER_ROUTES = set(re.findall(r'add_(?:get|post)\("([^"]+)"', (ROOT / "bot" / "server.py").read_text()))
FLAGS_API_ROUTES = set(re.findall(r'add_(?:get|post)\("([^"]+)"', (ROOT / "bot" / "flags_api.py").read_text()))


def test_slack_manifests_have_the_command_scopes_and_mode() -> None:
    for name, socket in (("slack-app-manifest.yml", False), ("slack-app-manifest.socket-mode.yml", True)):
        manifest = yaml.safe_load((DEPLOY / name).read_text())
        [command] = manifest["features"]["slash_commands"]
        assert command["command"] == "/chatops"
        assert set(manifest["oauth_config"]["scopes"]["bot"]) == SCOPES
        assert manifest["settings"]["socket_mode_enabled"] is socket
        assert manifest["settings"]["interactivity"]["is_enabled"] is True
        if not socket:
            assert command["url"].endswith("/slack/events")
            assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
            assert "/slack/events" in SERVER_ROUTES


def test_kubernetes_manifests() -> None:
    documents = [
        d for f in sorted((DEPLOY / "kubernetes").glob("*.yml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] in SERVER_ROUTES
    assert container["livenessProbe"]["httpGet"]["path"] in SERVER_ROUTES
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    configmap = next(d for d in documents if d["kind"] == "ConfigMap")
    config = parse_config(yaml.safe_load(configmap["data"]["chatops.yml"]))
    assert config.default_environment.production


def test_kubernetes_flags_api() -> None:
    documents = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "flags-api.yml").read_text()) if d]
    by_kind = {d["kind"]: d for d in documents}
    assert set(by_kind) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    deployment, service = by_kind["Deployment"], by_kind["Service"]
    assert deployment["spec"]["replicas"] >= 2 and by_kind["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1
    template = deployment["spec"]["template"]
    [container] = template["spec"]["containers"]
    assert container["args"][2:3] == ["flags-api"] and "--config" in container["args"]
    assert {"/healthz", "/readyz", "/metrics"} <= FLAGS_API_ROUTES
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = container["args"][container["args"].index("--port") + 1]
    assert [p["containerPort"] for p in container["ports"]] == [int(port)]
    assert (
        service["spec"]["selector"] == template["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"]
    )
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    assert container["resources"]["requests"]["cpu"] and template["spec"]["securityContext"]["runAsNonRoot"] is True
    secret = container["envFrom"][0]["secretRef"]["name"]
    secrets = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "secret.example.yml").read_text()) if d]
    shown = next(d["stringData"] for d in secrets if d["metadata"]["name"] == secret)
    config = yaml.safe_load(by_kind["ConfigMap"]["data"]["chatops.yml"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config.pop("definitions") == [mounts["definitions"]]
    parsed = parse_config(config)
    assert parsed.flags_api is not None and any(k.frontend for k in parsed.flags_api.keys)
    assert {k.env for k in parsed.flags_api.keys} == set(shown)  # every key the Secret example names


@pytest.mark.slow
def test_dockerfile_and_compose() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^USER chatops$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile and "/healthz" in SERVER_ROUTES
    entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"\]', dockerfile, re.M)
    assert entrypoint is not None
    scripts = (ROOT / "pyproject.toml").read_text()
    assert f'{entrypoint.group(1)} = "bot.cli:main"' in scripts
    assert shutil.which("chatops") or (ROOT / ".venv" / "bin" / "chatops").exists()
    for copied in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M):
        assert (ROOT / copied).exists(), copied
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    assert set(compose["services"]) == {"redis", "chatops"}
    config = yaml.safe_load((DEPLOY / "compose.chatops.yml").read_text())
    assert config.pop("definitions") == ["/etc/chatops/feature_flags"]  # the mount in compose.yml
    assert "./feature_flags:/etc/chatops/feature_flags:ro" in compose["services"]["chatops"]["volumes"]
    parse_config(config)
