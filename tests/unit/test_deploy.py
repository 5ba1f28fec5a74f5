"""deploy/kubernetes/ (issue 15): every manifest is valid against the Kubernetes API schema of KUBERNETES_VERSION
(kubernetes-validate ships the schemas: no network), every `hubnet` command and flag it uses exists in the CLI,
every HUBNET_* variable it sets is one the program it runs reads, and every reference inside it resolves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer.main
import yaml

from hubnet.cli import build
from hubnet.cli.controllers import ENV as CONTROLLERS_ENV
from hubnet.server.settings import Settings

KUBERNETES_VERSION = "1.31.0"
MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


DOCS = _documents()
CLI = typer.main.get_command(build())


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def test_the_manifests_are_all_there() -> None:
    kinds = sorted(doc["kind"] for _, doc in DOCS)
    assert kinds == ["DaemonSet", "Deployment", "Namespace", "PersistentVolumeClaim", "Secret", "Service"]


@pytest.mark.parametrize("where,doc", DOCS, ids=[w for w, _ in DOCS])
def test_valid_against_the_api_schema(where: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # strict: unknown fields are errors


def test_an_invalid_manifest_is_caught() -> None:
    """The validator is not a no-op: a misspelt field and a wrong type fail."""
    deployment = next(doc for _, doc in DOCS if doc["kind"] == "Deployment")
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = {**deployment, "spec": {**deployment["spec"], "replicas": "one"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _command(words: list[str]) -> tuple[Any, list[str]]:
    """The (click) command `hubnet <words…>` names, and the words after it (its arguments and options). Duck-typed:
    typer carries its own copy of click."""
    command: Any = CLI
    rest = list(words)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, f"`hubnet {' '.join(words)}`: no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    assert not hasattr(command, "commands"), f"`hubnet {' '.join(words)}` names a group, not a command"
    return command, rest


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option"]


def _reads(command: Any, words: list[str]) -> set[str]:
    """The HUBNET_* variables the program a command line runs reads."""
    names = {str(e) for p in command.params for e in ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])}
    if words[:1] == ["server"]:
        for name, field in Settings.model_fields.items():
            names.add(f"HUBNET_{name.upper()}")
            choices = getattr(field.validation_alias, "choices", [])
            names.update(c for c in choices if isinstance(c, str) and c.startswith("HUBNET_"))
    if words[:2] in (["node", "join"], ["router", "join"]):
        names.add(CONTROLLERS_ENV)
    return names


CONTAINERS = [(f"{where}/{c['name']}", doc, c) for where, doc in DOCS for c in _containers(doc)]


@pytest.mark.parametrize("where,doc,container", CONTAINERS, ids=[w for w, _, _ in CONTAINERS])
def test_commands_flags_and_variables_exist(where: str, doc: dict[str, Any], container: dict[str, Any]) -> None:
    line = [*container.get("command", []), *container.get("args", [])]
    assert line[0] == "hubnet", line
    command, rest = _command(line[1:])
    options = {o for p in _options(command) for o in (*p.opts, *p.secondary_opts)}
    hidden = {o for p in _options(command) if p.hidden for o in p.opts}
    for word in rest:
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            assert flag in options, f"{where}: `hubnet {' '.join(line[1:3])}` has no option {flag}"
            assert flag not in hidden, f"{where}: {flag} is a test seam"
    env = [e["name"] for e in container.get("env", [])]
    unread = [n for n in env if n.startswith("HUBNET_") and n not in _reads(command, line[1:])]
    assert not unread, f"{where}: {unread} are read by no program `hubnet {' '.join(line[1:3])}` runs"

    # $(VAR) resolves to a variable defined before it, or to a Service's link variable (the kubelet's)
    services = [d["metadata"]["name"] for _, d in DOCS if d["kind"] == "Service"]
    links = {f"{s.upper().replace('-', '_')}_SERVICE_{p}" for s in services for p in ("HOST", "PORT")}
    defined: set[str] = set()
    for var in container.get("env", []):
        for ref in re.findall(r"\$\((\w+)\)", str(var.get("value", ""))):
            assert ref in defined or ref in links, f"{where}: {var['name']} uses $({ref}), not defined before it"
        defined.add(var["name"])
    for word in line:
        for ref in re.findall(r"\$\((\w+)\)", word):
            assert ref in defined or ref in links, f"{where}: {word!r} uses $({ref}), which nothing defines"


def test_references_resolve() -> None:
    """Secret keys, the volume claim, the namespace, probe ports and selectors name things the manifests define."""
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for _, doc in DOCS:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    (namespace,) = by_kind["Namespace"]
    for where, doc in DOCS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, where
    secret = by_kind["Secret"]["hubnet-tokens"]
    for where, doc, container in CONTAINERS:
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] in by_kind["Secret"] and ref["key"] in secret["stringData"], (where, ref)
        ports = {p["name"] for p in container.get("ports", [])}
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in container:
                assert container[probe]["httpGet"]["port"] in ports, (where, probe)
        spec = doc["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            claim = volume.get("persistentVolumeClaim")
            if claim:
                assert claim["claimName"] in by_kind["PersistentVolumeClaim"], where
        assert doc["spec"]["selector"]["matchLabels"].items() <= doc["spec"]["template"]["metadata"]["labels"].items()
    controller = by_kind["Deployment"]["hubnet-controller"]["spec"]["template"]["spec"]["containers"][0]
    assert controller["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert controller["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_kind["Service"]["hubnet-controller"]["spec"]
    assert service["selector"].items() <= by_kind["Deployment"]["hubnet-controller"]["metadata"]["labels"].items()


def test_the_probes_are_real_endpoints() -> None:
    from hubnet.server.api import health

    paths = {getattr(r, "path", "") for r in health.router.routes}
    assert {"/readyz", "/healthz"} <= paths


def test_the_node_agent_mounts_what_it_uses() -> None:
    ds = next(doc for _, doc in DOCS if doc["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    hosts = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    for path in ("/etc/cni/net.d", "/opt/cni/bin", "/var/lib/hubnet", "/run/netns"):
        assert path in mounts and hosts[mounts[path]["name"]] == path, path  # same path inside and out
    assert mounts["/run/netns"]["mountPropagation"] == "HostToContainer"
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert env["NODE_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
    assert {"operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]


def test_the_docs_apply_exactly_the_validated_files() -> None:
    """docs/install.md's copy-paste `kubectl apply -f deploy/kubernetes/` applies every .yaml/.yml/.json at the top of
    the directory (kubectl's rule, not recursive): those must be the files validated here (`*.yaml`), and the
    doc's table of files must list them all."""
    doc = (MANIFESTS.parents[1] / "docs" / "install.md").read_text()
    section = doc.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    blocks = "".join(re.findall(r"```sh\n(.*?)```", section, re.DOTALL))  # the copy-paste, not the prose
    targets = re.findall(r"kubectl apply -f (\S+)", blocks)
    assert targets == ["deploy/kubernetes/"], targets
    applied = sorted(p.name for p in MANIFESTS.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
    assert applied == sorted(p.name for p in MANIFESTS.glob("*.yaml"))
    assert not (MANIFESTS / "kustomization.yaml").exists()  # `-f`, not `-k`: a kustomization would be applied as is
    assert sorted(re.findall(r"^\| `([\w.-]+\.ya?ml)` \|", section, re.MULTILINE)) == applied
