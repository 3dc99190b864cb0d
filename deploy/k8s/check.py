"""Offline check of the Kubernetes deployment: `python -m deploy.k8s.check` (`make k8s-check`).

1. kustomize (pinned, installed into `.stack/bin` through the Go module proxy when missing)
   renders every overlay in `deploy/k8s/overlays/`.
2. Every rendered object validates: core kinds against the Kubernetes JSON schemas that
   `kubernetes-validate` ships (strict: unknown fields fail), for the oldest and the newest
   Kubernetes version we support; Strimzi, CloudNativePG and prometheus-operator objects
   against the schemas in `deploy/k8s/schemas/` (hand-written for the fields we use, pinned
   to named operator versions, because no package ships those CRD schemas offline).
3. The KafkaTopic objects are exactly the event catalog's types and their `.dlq` topics, and
   the committed `base/kafka/topics.yaml` is what `python -m deploy.k8s.topics` generates.
4. Every Deployment has readiness (`/readyz`) and liveness (`/healthz`) probes, requests and
   limits, a non-root, read-only, no-privilege-escalation security context; Jobs the same
   security context; references (ConfigMaps, Secrets, Services, HPA targets) resolve.
5. Each overlay has the sizes the issue asks for (dev: one of everything; production: three
   brokers, replication 3, min.insync.replicas 2, three PostgreSQL instances, backups).

Nothing rendered is written unless `--out DIR` is given (keep it out of git).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml
from referencing import Registry, Resource

from deploy.k8s import topics

# jsonschema (a dependency of kubernetes-validate) ships no type stubs and the lock has none.
jsonschema: Any = importlib.import_module("jsonschema")

K8S_DIR = Path(__file__).resolve().parent
REPO = K8S_DIR.parent.parent
OVERLAYS = ("dev", "production", "restore")  # restore: production + components/restore
RELEASE_OVERLAYS = ("production", "restore")  # what is applied to the real site
SCHEMAS_DIR = K8S_DIR / "schemas"
SECRETS_EXAMPLE = K8S_DIR / "secrets.example.yaml"
DOCKERFILE = REPO / "Dockerfile"

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
# v5.8.3 needs Go >= 1.27; v5.8.2 is the newest that builds with the Go on our machines (1.26).
KUSTOMIZE_VERSION = "v5.8.2"
# KUSTOMIZE_BIN=<path> uses a kustomize built elsewhere (e.g. another checkout's .stack/bin).
KUSTOMIZE_BIN = Path(os.environ.get("KUSTOMIZE_BIN") or REPO / ".stack" / "bin" / "kustomize")
GO_FALLBACK = Path("/usr/local/go/bin/go")

# The oldest Kubernetes minor we support and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.33", "1.37")

SERVICES = ("gateway", "signals", "partners", "goals", "notifications", "neighbourhoods")
DB_SERVICES = ("signals", "partners", "goals", "notifications", "neighbourhoods")
HPA_SERVICES = ("gateway", "signals")

Obj = dict[str, Any]


class CheckError(Exception):
    """A check could not run at all (tool missing, render failed)."""


def log(message: str) -> None:
    print(f"[k8s-check] {message}", flush=True)


# --------------------------------------------------------------------------- kustomize


def _go() -> str:
    found = shutil.which("go")
    if found:
        return found
    if GO_FALLBACK.exists():
        return str(GO_FALLBACK)
    raise CheckError("kustomize is missing and no Go toolchain was found (PATH, /usr/local/go/bin/go)")


def _kustomize_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def ensure_kustomize(binary: Path = KUSTOMIZE_BIN) -> Path:
    """The pinned kustomize, built with `go install` (Go module proxy) when missing or other."""
    if _kustomize_version(binary) == KUSTOMIZE_VERSION:
        return binary
    log(f"installing kustomize {KUSTOMIZE_VERSION} into {binary.parent} (go install)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(binary.parent), "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    result = subprocess.run(
        [_go(), "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise CheckError(f"go install kustomize failed:\n{result.stderr.strip()}")
    version = _kustomize_version(binary)
    if version != KUSTOMIZE_VERSION:
        raise CheckError(f"installed kustomize reports {version!r}, wanted {KUSTOMIZE_VERSION}")
    return binary


class _Loader(yaml.SafeLoader):
    """YAML as the API server reads it: a timestamp-looking scalar (a recovery targetTime that
    kustomize renders unquoted) stays a string, not a datetime."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def render(overlay: str, kustomize: Path) -> list[Obj]:
    """`kustomize build overlays/<overlay>`, parsed."""
    path = K8S_DIR / "overlays" / overlay
    result = subprocess.run(
        [str(kustomize), "build", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise CheckError(f"kustomize build {path} failed:\n{result.stderr.strip()}")
    docs = [d for d in yaml.load_all(result.stdout, Loader=_Loader) if d is not None]
    if not all(isinstance(d, dict) for d in docs):
        raise CheckError(f"kustomize build {path} gave a document that is not an object")
    return docs


def render_text(overlay: str, kustomize: Path) -> str:
    path = K8S_DIR / "overlays" / overlay
    return subprocess.run(
        [str(kustomize), "build", str(path)], capture_output=True, text=True, timeout=120, check=True
    ).stdout


# --------------------------------------------------------------------------- helpers


def ref(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(objs: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]


def by_name(objs: Iterable[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in of_kind(objs, kind)}


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector (matchLabels + matchExpressions) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _fmt_path(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path) or "(root)"


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class CrdSchema:
    path: Path
    pinned: str
    validator: Any  # a jsonschema Validator for the schema's $schema draft


@cache
def crd_schemas() -> dict[tuple[str, str], CrdSchema]:
    """(apiVersion, kind) -> the pinned schema in deploy/k8s/schemas/."""
    found: dict[tuple[str, str], CrdSchema] = {}
    for path in sorted(SCHEMAS_DIR.rglob("*.json")):
        schema = json.loads(path.read_text())
        gvk = schema["x-kubernetes-group-version-kind"]
        key = (f"{gvk['group']}/{gvk['version']}", gvk["kind"])
        if key in found:
            raise CheckError(f"two schemas for {key}: {found[key].path} and {path}")
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
        found[key] = CrdSchema(path, schema["x-pinned-operator-version"], validator_cls(schema))
    return found


@cache
def core_validator(version: str, api_version: str, kind: str) -> Any | None:
    """A strict validator for a core kind, as `kubernetes_validate.validate(..., strict=True)` builds
    it, but made once per (version, kind): that function re-reads 1.8 MB of definitions per call."""
    utils = kubernetes_validate.utils
    schema_version = [v for v in utils.all_versions() if utils.major_minor(v) <= utils.major_minor(version)][-1]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{schema_version}-local-strict"
    try:
        schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_objects(objs: Sequence[Obj], versions: Sequence[str] = KUBERNETES_VERSIONS) -> list[str]:
    """Core kinds: the Kubernetes schemas of kubernetes-validate (strict) per version; CRDs: ours."""
    errors: list[str] = []
    schemas = crd_schemas()
    for obj in objs:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in schemas:
            for err in sorted(schemas[key].validator.iter_errors(obj), key=lambda e: list(e.path)):
                errors.append(f"{ref(obj)}: {_fmt_path(err.path)}: {err.message} ({schemas[key].pinned} schema)")
            continue
        for version in versions:
            validator = core_validator(version, *key)
            if validator is None:
                # Neither a core kind of this version nor a custom resource with a pinned schema.
                errors.append(
                    f"{ref(obj)}: no schema for {key[0]} {key[1]} in Kubernetes {version} "
                    f"nor under {SCHEMAS_DIR.relative_to(REPO)}"
                )
                continue
            for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
                errors.append(f"{ref(obj)}: {_fmt_path(err.path)}: {err.message} (Kubernetes {version})")
    return errors


# --------------------------------------------------------------------------- topics


def check_topics(objs: Sequence[Obj], event_types: Sequence[str]) -> list[str]:
    """KafkaTopics = the catalog's event types and their .dlq, each once, names DNS-safe."""
    errors: list[str] = []
    kafka_topics = of_kind(objs, "KafkaTopic")
    names = Counter(str(t["spec"].get("topicName") or t["metadata"]["name"]) for t in kafka_topics)
    wanted = set(topics.topic_names(event_types))
    for name, count in names.items():
        if count > 1:
            errors.append(f"topic {name} is declared {count} times")
    missing, extra = sorted(wanted - set(names)), sorted(set(names) - wanted)
    if missing:
        errors.append(f"KafkaTopics missing for catalog topics: {', '.join(missing)}")
    if extra:
        errors.append(f"KafkaTopics not in the event catalog: {', '.join(extra)}")
    clusters = {k["metadata"]["name"] for k in of_kind(objs, "Kafka")}
    for t in kafka_topics:
        if t["metadata"]["name"] != topics.object_name(str(t["spec"].get("topicName"))):
            errors.append(f"{ref(t)}: name does not follow topicName {t['spec'].get('topicName')!r}")
        cluster = t["metadata"].get("labels", {}).get("strimzi.io/cluster")
        if cluster not in clusters:
            errors.append(f"{ref(t)}: strimzi.io/cluster {cluster!r} is not a Kafka in this overlay")
    return errors


def check_topics_file(event_types: Sequence[str]) -> list[str]:
    wanted = topics.render(event_types)
    current = topics.TOPICS_FILE.read_text() if topics.TOPICS_FILE.exists() else ""
    if current != wanted:
        where = topics.TOPICS_FILE
        rel = where.relative_to(REPO) if where.is_relative_to(REPO) else where
        return [f"{rel} differs from the event catalog: run `python -m deploy.k8s.topics` and commit it"]
    return []


# --------------------------------------------------------------------------- workloads


def _probe_path(container: Obj, probe: str) -> str | None:
    http = (container.get(probe) or {}).get("httpGet") or {}
    path = http.get("path")
    return str(path) if path is not None else None


def check_pod_security(obj: Obj) -> list[str]:
    errors: list[str] = []
    spec = pod_spec(obj)
    pod_sc = spec.get("securityContext") or {}
    if pod_sc.get("runAsNonRoot") is not True:
        errors.append(f"{ref(obj)}: pod securityContext.runAsNonRoot must be true")
    if (pod_sc.get("runAsUser") or 0) == 0:
        errors.append(f"{ref(obj)}: pod securityContext.runAsUser must be a non-zero uid")
    if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append(f"{ref(obj)}: pod securityContext.seccompProfile.type must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{ref(obj)}: automountServiceAccountToken must be false (no API access needed)")
    empty_dirs = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    mounts_tmp = False
    for c in containers(obj):
        where = f"{ref(obj)} container {c.get('name')}"
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation must be false")
        if sc.get("privileged"):
            errors.append(f"{where}: must not be privileged")
        if sc.get("runAsUser") == 0:
            errors.append(f"{where}: must not run as uid 0")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            errors.append(f"{where}: capabilities.drop must include ALL")
        if (sc.get("capabilities") or {}).get("add"):
            errors.append(f"{where}: must add no capabilities")
        tmp_mounts = [m["name"] for m in c.get("volumeMounts") or [] if m.get("mountPath") == "/tmp"]  # noqa: S108
        if tmp_mounts and all(name in empty_dirs for name in tmp_mounts):
            mounts_tmp = True
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (res.get(part) or {}):
                    errors.append(f"{where}: resources.{part}.{resource} is missing")
    if not mounts_tmp:
        errors.append(f"{ref(obj)}: /tmp must be an emptyDir (the root file system is read-only)")
    return errors


def check_workloads(objs: Sequence[Obj]) -> list[str]:
    """Deployments: probes, resources, security, the service chosen by the command; Jobs: security."""
    errors: list[str] = []
    deployments = by_name(objs, "Deployment")
    missing = sorted(set(SERVICES) - set(deployments))
    if missing:
        errors.append(f"no Deployment for: {', '.join(missing)}")
    images: set[str] = set()
    for name, dep in deployments.items():
        errors += check_pod_security(dep)
        main = [c for c in pod_spec(dep)["containers"] if c.get("name") == name]
        if not main:
            errors.append(f"{ref(dep)}: no container named {name}")
            continue
        c = main[0]
        images.add(str(c.get("image")))
        if _probe_path(c, "readinessProbe") != "/readyz":
            errors.append(f"{ref(dep)}: readinessProbe must be httpGet /readyz")
        if _probe_path(c, "livenessProbe") != "/healthz":
            errors.append(f"{ref(dep)}: livenessProbe must be httpGet /healthz")
        factory = "gateway.app:create_app" if name == "gateway" else f"services.{name}.app:create_app"
        command = [*(c.get("command") or []), *(c.get("args") or [])]
        if command[:1] != ["uvicorn"] or factory not in command or "--factory" not in command:
            errors.append(f"{ref(dep)}: command must be `uvicorn --factory {factory} ...`, got {command}")
        if "8080" not in command or not any(p.get("containerPort") == 8080 for p in c.get("ports") or []):
            errors.append(f"{ref(dep)}: must listen on port 8080")
        if name in HPA_SERVICES and "replicas" in dep["spec"]:
            errors.append(f"{ref(dep)}: spec.replicas must be unset (its HorizontalPodAutoscaler owns it)")
    jobs = by_name(objs, "Job")
    for service in DB_SERVICES:
        job = jobs.get(f"{service}-migrate")
        if job is None:
            errors.append(f"no migration Job {service}-migrate")
            continue
        first = pod_spec(job)["containers"][0]
        command = [*(first.get("command") or []), *(first.get("args") or [])]
        if command != ["python", "-m", "shared.migrate", service]:
            errors.append(f"{ref(job)}: command must be `python -m shared.migrate {service}`, got {command}")
        images.update(str(c.get("image")) for c in pod_spec(job)["containers"])
    for job in jobs.values():
        errors += check_pod_security(job)
    if len(images) > 1:
        errors.append(f"all services must run the one image, found: {sorted(images)}")
    return errors


# --------------------------------------------------------------------------- wiring


def documented_secrets() -> dict[str, set[str]]:
    """Secret name -> keys, from secrets.example.yaml (the documented placeholders)."""
    found: dict[str, set[str]] = {}
    for doc in yaml.safe_load_all(SECRETS_EXAMPLE.read_text()):
        if doc and doc.get("kind") == "Secret":
            keys = set((doc.get("stringData") or {}).keys()) | set((doc.get("data") or {}).keys())
            found[doc["metadata"]["name"]] = keys
    return found


def check_secrets_example(path: Path = SECRETS_EXAMPLE) -> list[str]:
    """The documented Secrets are valid objects and hold placeholders only, never real values."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    errors = validate_objects(docs)
    for doc in docs:
        if doc.get("data"):
            errors.append(f"{ref(doc)}: use stringData placeholders, not data")
        for key, value in (doc.get("stringData") or {}).items():
            placeholder = str(value).startswith("REPLACE-WITH")
            if not placeholder and not (key == "username" and doc.get("type") == "kubernetes.io/basic-auth"):
                errors.append(f"{ref(doc)}: {key} must be a REPLACE-WITH-... placeholder")
    return errors


def _secret_refs(obj: Obj) -> Iterator[tuple[str, str | None]]:
    """(secret name, key or None) referenced by an object."""
    if obj.get("kind") in ("Deployment", "Job"):
        spec = pod_spec(obj)
        for c in containers(obj):
            for env in c.get("env") or []:
                sk = (env.get("valueFrom") or {}).get("secretKeyRef")
                if sk:
                    yield sk["name"], sk["key"]
            for src in c.get("envFrom") or []:
                if "secretRef" in src:
                    yield src["secretRef"]["name"], None
        for vol in spec.get("volumes") or []:
            secret = vol.get("secret")
            if secret:
                items = secret.get("items") or [{"key": None}]
                for item in items:
                    yield secret["secretName"], item["key"]
    elif obj.get("kind") == "Cluster":
        for role in (obj["spec"].get("managed") or {}).get("roles") or []:
            if "passwordSecret" in role:
                yield role["passwordSecret"]["name"], "password"
                yield role["passwordSecret"]["name"], "username"
        creds = ((obj["spec"].get("backup") or {}).get("barmanObjectStore") or {}).get("s3Credentials") or {}
        for value in creds.values():
            if isinstance(value, dict):
                yield value["name"], value["key"]
    elif obj.get("kind") == "Ingress":
        for tls in obj["spec"].get("tls") or []:
            yield tls["secretName"], None


def check_wiring(objs: Sequence[Obj]) -> list[str]:
    """References resolve: ConfigMaps, Secrets (documented), Services, PDBs, HPAs, monitors."""
    errors: list[str] = []
    if of_kind(objs, "Secret"):
        errors.append(
            "Secrets must not be rendered (no secret values in git): "
            + ", ".join(ref(s) for s in of_kind(objs, "Secret"))
        )
    config_maps = set(by_name(objs, "ConfigMap"))
    secrets = documented_secrets()
    for obj in objs:
        if obj.get("kind") in ("Deployment", "Job"):
            for c in containers(obj):
                for src in c.get("envFrom") or []:
                    name = (src.get("configMapRef") or {}).get("name")
                    if name and name not in config_maps:
                        errors.append(f"{ref(obj)}: ConfigMap {name} is not rendered")
        for name, key in _secret_refs(obj):
            if name not in secrets:
                errors.append(f"{ref(obj)}: Secret {name} is not documented in {SECRETS_EXAMPLE.name}")
            elif key is not None and key not in secrets[name]:
                errors.append(f"{ref(obj)}: Secret {name} key {key} is not documented in {SECRETS_EXAMPLE.name}")
    deployments = by_name(objs, "Deployment")
    pod_labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    job_labels = [j["spec"]["template"]["metadata"]["labels"] for j in of_kind(objs, "Job")]
    for svc in of_kind(objs, "Service"):
        selector = {"matchLabels": svc["spec"].get("selector") or {}}
        matched = [n for n, labels in pod_labels.items() if selector_matches(selector, labels)]
        if matched != [svc["metadata"]["name"]]:
            errors.append(f"{ref(svc)}: selects Deployments {matched}, wanted exactly its own")
        if any(selector_matches(selector, labels) for labels in job_labels):
            errors.append(f"{ref(svc)}: selector also matches migration Job pods")
        if [p.get("port") for p in svc["spec"].get("ports") or []] != [8080]:
            errors.append(f"{ref(svc)}: must expose port 8080 only (SERVICE_URLS_* use http://<name>:8080)")
    for name in SERVICES:
        if name not in by_name(objs, "Service"):
            errors.append(f"no Service {name}")
        pdbs = [
            p
            for p in of_kind(objs, "PodDisruptionBudget")
            if name in pod_labels and selector_matches(p["spec"]["selector"], pod_labels[name])
        ]
        if len(pdbs) != 1:
            errors.append(f"Deployment/{name}: wants one PodDisruptionBudget, has {len(pdbs)}")
        monitors = [
            m
            for m in of_kind(objs, "ServiceMonitor")
            if selector_matches(
                m["spec"]["selector"], by_name(objs, "Service").get(name, {}).get("metadata", {}).get("labels", {})
            )
        ]
        if len(monitors) != 1:
            errors.append(f"Service/{name}: wants one ServiceMonitor, has {len(monitors)}")
    hpas = by_name(objs, "HorizontalPodAutoscaler")
    if sorted(hpas) != sorted(HPA_SERVICES):
        errors.append(f"HorizontalPodAutoscalers for {sorted(hpas)}, wanted {sorted(HPA_SERVICES)}")
    for hpa in hpas.values():
        target = hpa["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") not in deployments:
            errors.append(f"{ref(hpa)}: scaleTargetRef {target} is not a rendered Deployment")
    ingresses = of_kind(objs, "Ingress")
    backends = {
        p["backend"]["service"]["name"]
        for i in ingresses
        for rule in i["spec"].get("rules") or []
        for p in (rule.get("http") or {}).get("paths") or []
    }
    if backends != {"gateway"}:
        errors.append(f"Ingress must route to the gateway only, routes to {sorted(backends)}")
    policies = of_kind(objs, "NetworkPolicy")
    if not any(
        p["spec"].get("podSelector") == {}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
        for p in policies
    ):
        errors.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
    for p in policies:
        for rule in p["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                if "ipBlock" in peer:
                    errors.append(f"{ref(p)}: ingress from an ipBlock; only the gateway is reachable from outside")
        if not (p["spec"].get("ingress") or []):
            continue
        selected = [n for n, labels in pod_labels.items() if selector_matches(p["spec"]["podSelector"], labels)]
        outside = [
            peer
            for rule in p["spec"]["ingress"]
            for peer in rule.get("from") or []
            if "namespaceSelector" in peer
            and "podSelector" not in peer
            and peer["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name") != "monitoring"
        ]
        if outside and selected and selected != ["gateway"]:
            errors.append(f"{ref(p)}: admits other namespaces to {selected}; only the gateway may be reachable")
    return errors


# --------------------------------------------------------------------------- database and restore

DB_HOST_REF = "$(DB_HOST)"


def config_data(objs: Sequence[Obj]) -> dict[str, str]:
    env = next((c for c in of_kind(objs, "ConfigMap") if c["metadata"]["name"].startswith("wijkaanpak-config")), None)
    return dict((env or {}).get("data") or {})


def postgres_pod_labels(cluster: Obj) -> dict[str, str]:
    """The labels CloudNativePG puts on an instance pod: the Cluster's inheritedMetadata labels
    plus its own `cnpg.io/cluster: <name>` and `cnpg.io/podRole: instance`."""
    inherited = ((cluster["spec"].get("inheritedMetadata") or {}).get("labels")) or {}
    return {**inherited, "cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"}


def _peer_matches(peer: Obj, labels: dict[str, str]) -> bool:
    """A same-namespace podSelector peer (no namespaceSelector, no ipBlock) that selects labels."""
    return "podSelector" in peer and "namespaceSelector" not in peer and selector_matches(peer["podSelector"], labels)


def _allows_port(rule: Obj, port: int) -> bool:
    ports = rule.get("ports") or []
    return not ports or any(p.get("port") == port for p in ports)


def check_database(objs: Sequence[Obj]) -> list[str]:
    """The database host is set in one place (DB_HOST in the ConfigMap, the Cluster's `-rw`
    Service) and the NetworkPolicies reach PostgreSQL by labels that do not depend on the
    Cluster's name, so a cluster restored under another name works with the same policies."""
    errors: list[str] = []
    clusters = of_kind(objs, "Cluster")
    if len(clusters) != 1:
        return [f"wants one CloudNativePG Cluster, has {len(clusters)}"]
    cluster = clusters[0]
    name = cluster["metadata"]["name"]
    host = config_data(objs).get("DB_HOST")
    if host != f"{name}-rw":
        errors.append(f"wijkaanpak-config DB_HOST is {host!r}, wanted {name}-rw (the Cluster's primary Service)")
    for obj in of_kind(objs, "Deployment") + of_kind(objs, "Job"):
        for c in containers(obj):
            names = {e["name"] for e in c.get("env") or []}
            from_config = any("configMapRef" in src for src in c.get("envFrom") or [])
            for env in c.get("env") or []:
                if not env["name"].endswith("DATABASE_URL"):
                    continue
                hosts = re.findall(r"@([^:/]+)", str(env.get("value") or ""))
                if hosts != [DB_HOST_REF]:
                    errors.append(f"{ref(obj)}: {env['name']} must take its host from {DB_HOST_REF}, has {hosts}")
                elif "DB_HOST" not in names and not from_config:
                    errors.append(f"{ref(obj)}: {env['name']} uses {DB_HOST_REF} but the container has no DB_HOST")
    for kind in ("Database", "ScheduledBackup"):
        for obj in of_kind(objs, kind):
            if obj["spec"]["cluster"]["name"] != name:
                errors.append(f"{ref(obj)}: cluster.name {obj['spec']['cluster']['name']!r}, wanted {name}")
    inherited = (cluster["spec"].get("inheritedMetadata") or {}).get("labels") or {}
    if not inherited:
        errors.append(f"{ref(cluster)}: wants inheritedMetadata.labels (the NetworkPolicies select PostgreSQL by them)")
    policies = of_kind(objs, "NetworkPolicy")
    for p in policies:
        if "cnpg.io/cluster" in json.dumps(p["spec"]):
            errors.append(f"{ref(p)}: selects PostgreSQL by cnpg.io/cluster (a restored cluster has another name)")
    pg_labels = postgres_pod_labels(cluster)
    pg_policies = [
        p
        for p in policies
        if "Ingress" in (p["spec"].get("policyTypes") or []) and selector_matches(p["spec"]["podSelector"], pg_labels)
    ]
    deployments = by_name(objs, "Deployment")
    for service in DB_SERVICES:
        dep = deployments.get(service)
        if dep is None:
            continue
        labels = dep["spec"]["template"]["metadata"]["labels"]
        admitted = any(
            _allows_port(rule, 5432) and any(_peer_matches(peer, labels) for peer in rule.get("from") or [])
            for p in pg_policies
            for rule in p["spec"].get("ingress") or []
        )
        if not admitted:
            errors.append(f"no NetworkPolicy admits {service} to the pods of Cluster/{name} on 5432")
        reaches = any(
            _allows_port(rule, 5432) and any(_peer_matches(peer, pg_labels) for peer in rule.get("to") or [])
            for p in policies
            if "Egress" in (p["spec"].get("policyTypes") or []) and selector_matches(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress") or []
        )
        if not reaches:
            errors.append(f"no NetworkPolicy lets {service} reach the pods of Cluster/{name} on 5432")
    replication = any(
        _allows_port(rule, 5432) and any(_peer_matches(peer, pg_labels) for peer in rule.get("from") or [])
        for p in pg_policies
        for rule in p["spec"].get("ingress") or []
    )
    if not replication:
        errors.append(f"no NetworkPolicy lets the instances of Cluster/{name} reach each other (replication)")
    return errors


def check_restore(objs: Sequence[Obj], required: bool) -> list[str]:
    """A Cluster that bootstraps by recovery reads the OLD cluster's archive: an externalCluster
    with the old `serverName` in the same object store, a recovery target, a name of its own."""
    errors: list[str] = []
    for cluster in of_kind(objs, "Cluster"):
        name = cluster["metadata"]["name"]
        bootstrap = cluster["spec"].get("bootstrap") or {}
        recovery = bootstrap.get("recovery")
        if recovery is None:
            if required:
                errors.append(f"{ref(cluster)}: wants bootstrap.recovery (this overlay restores)")
            continue
        if "initdb" in bootstrap:
            errors.append(f"{ref(cluster)}: bootstrap has both initdb and recovery")
        if not recovery.get("recoveryTarget"):
            errors.append(f"{ref(cluster)}: bootstrap.recovery wants a recoveryTarget (the point in time)")
        if (recovery.get("database"), recovery.get("owner")) != ("wijkaanpak", "app"):
            errors.append(f"{ref(cluster)}: bootstrap.recovery wants database wijkaanpak, owner app")
        sources = {e["name"]: e for e in cluster["spec"].get("externalClusters") or []}
        source = sources.get(str(recovery.get("source")))
        if source is None:
            errors.append(f"{ref(cluster)}: recovery source {recovery.get('source')!r} is not in externalClusters")
            continue
        store = source.get("barmanObjectStore") or {}
        server = store.get("serverName")
        if not server:
            errors.append(
                f"{ref(cluster)}: externalClusters {source['name']} wants barmanObjectStore.serverName "
                "(the old cluster's name: its folder in the object store)"
            )
        elif server == name:
            errors.append(f"{ref(cluster)}: restores from its own name {name}; restore into a new cluster")
        own = (cluster["spec"].get("backup") or {}).get("barmanObjectStore") or {}
        if own:
            for key in ("destinationPath", "endpointURL", "s3Credentials"):
                if store.get(key) != own.get(key):
                    errors.append(f"{ref(cluster)}: externalClusters {source['name']} {key} differs from spec.backup")
            if own.get("serverName", name) == server:
                errors.append(f"{ref(cluster)}: would archive into the folder it restores from ({server})")
    return errors


# --------------------------------------------------------------------------- PostgreSQL settings

# A dead client's session (and its advisory locks) must end within this many seconds.
DEAD_PEER_SECONDS = 120
LOCK_TIMEOUT_SQL = re.compile(r"^ALTER DATABASE wijkaanpak SET lock_timeout\s*(=|TO)\s*'(\d+)(ms|s)'$", re.I)


def check_postgres_settings(objs: Sequence[Obj]) -> list[str]:
    """TCP keepalives and user timeout on the server, and `lock_timeout` for every session in the
    services' database (`ALTER DATABASE wijkaanpak SET lock_timeout` at initdb; a restored
    cluster brings it along in its catalog)."""
    errors: list[str] = []
    for pg in of_kind(objs, "Cluster"):
        params = (pg["spec"].get("postgresql") or {}).get("parameters") or {}
        values: dict[str, int] = {}
        for key in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout"):
            raw = str(params.get(key, ""))
            if not raw.isdigit() or int(raw) == 0:
                errors.append(f"{ref(pg)}: postgresql.parameters.{key} must be a positive integer, is {raw!r}")
            else:
                values[key] = int(raw)
        if len(values) == 4:
            keepalive = (
                values["tcp_keepalives_idle"] + values["tcp_keepalives_interval"] * values["tcp_keepalives_count"]
            )
            if keepalive > DEAD_PEER_SECONDS:
                errors.append(
                    f"{ref(pg)}: a dead idle client is noticed after {keepalive} s, wanted <= {DEAD_PEER_SECONDS}"
                )
            if values["tcp_user_timeout"] > DEAD_PEER_SECONDS * 1000:
                timeout = values["tcp_user_timeout"]
                errors.append(f"{ref(pg)}: tcp_user_timeout {timeout} ms, wanted <= {DEAD_PEER_SECONDS} s")
        bootstrap = pg["spec"].get("bootstrap") or {}
        if "recovery" in bootstrap:
            continue
        sql = ((bootstrap.get("initdb") or {}).get("postInitApplicationSQL")) or []
        timeouts = [m for m in (LOCK_TIMEOUT_SQL.match(str(line).strip()) for line in sql) if m]
        if not timeouts:
            errors.append(f"{ref(pg)}: initdb wants `ALTER DATABASE wijkaanpak SET lock_timeout = '<n>s'`")
        for m in timeouts:
            ms = int(m.group(2)) * (1000 if m.group(3).lower() == "s" else 1)
            if not 0 < ms <= 30_000:
                errors.append(f"{ref(pg)}: lock_timeout {ms} ms, wanted between 1 ms and 30 s")
    return errors


# --------------------------------------------------------------------------- edge: Ingress, egress, placeholders

# The gateway's public paths (path, pathType). Everything else (/metrics, /readyz, /healthz,
# /docs, /openapi.json) stays inside the cluster.
PUBLIC_PATHS = {("/graphql", "Exact"), ("/v1", "Prefix"), ("/open311", "Prefix")}
INTERNAL_PATHS = ("/", "/metrics", "/readyz", "/healthz", "/docs", "/openapi.json", "/redoc", "/graphiql")
# Only these services may reach the internet (webhooks and e-mail).
INTERNET_SERVICES = ("notifications",)
WIDE_CIDRS = ("0.0.0.0/0", "::/0")
# What an operator must replace before production: example domains, the documentation address
# ranges (RFC 5737, RFC 3849) and the REPLACE-WITH markers.
PLACEHOLDER = re.compile(
    r"\bexample\.(?:org|com|net)\b|\b(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d+|\b2001:db8:|REPLACE-WITH", re.I
)


def _path_matches(path: str, path_type: str, request: str) -> bool:
    if path_type == "Exact":
        return request == path
    prefix = path.rstrip("/")
    return request == prefix or request.startswith(prefix + "/") or prefix == ""


def check_ingress(objs: Sequence[Obj]) -> list[str]:
    errors: list[str] = []
    for ing in of_kind(objs, "Ingress"):
        for rule in ing["spec"].get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                path, path_type = str(p.get("path", "/")), str(p.get("pathType"))
                if (path, path_type) not in PUBLIC_PATHS:
                    errors.append(f"{ref(ing)}: path {path} ({path_type}) is not one of the public paths")
                exposed = [i for i in INTERNAL_PATHS if _path_matches(path, path_type, i)]
                if exposed:
                    errors.append(f"{ref(ing)}: path {path} ({path_type}) exposes {', '.join(exposed)}")
    return errors


def check_egress(objs: Sequence[Obj]) -> list[str]:
    """Only notifications may reach the internet; no service pod has open egress."""
    errors: list[str] = []
    pod_labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in by_name(objs, "Deployment").items()}
    for p in of_kind(objs, "NetworkPolicy"):
        if "Egress" not in (p["spec"].get("policyTypes") or []):
            continue
        selected = sorted(n for n, labels in pod_labels.items() if selector_matches(p["spec"]["podSelector"], labels))
        if not selected:
            continue
        for rule in p["spec"].get("egress") or []:
            if not rule.get("to"):
                errors.append(f"{ref(p)}: open egress (no `to`) for {selected}")
                continue
            wide = [peer["ipBlock"]["cidr"] for peer in rule["to"] if "ipBlock" in peer]
            wide = [c for c in wide if c in WIDE_CIDRS or int(c.rsplit("/", 1)[1]) < 8]
            others = [n for n in selected if n not in INTERNET_SERVICES]
            if wide and others:
                errors.append(f"{ref(p)}: lets {others} reach the internet ({', '.join(wide)}); only notifications may")
    return errors


def check_placeholders(text: str) -> list[str]:
    """Rendered output with a placeholder an operator has to replace (for production: --release)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if PLACEHOLDER.search(line) and not line.lstrip().startswith("#"):
            found[line.strip()] += 1
    return [f"placeholder in the rendered output: {line}" + (f" ({n}x)" if n > 1 else "") for line, n in found.items()]


# --------------------------------------------------------------------------- alerts

# The metrics the alerts are about (each must appear in some alert expression).
ALERT_METRICS = (
    "wijkaanpak_outbox_pending",
    "wijkaanpak_outbox_oldest_unpublished_seconds",
    "wijkaanpak_outbox_parked_rows",
    "wijkaanpak_kafka_reachable",
    "wijkaanpak_consumer_lag",
    "wijkaanpak_consumer_waiting_oldest_seconds",
    "wijkaanpak_consumer_wait_expired_total",
    "wijkaanpak_dlq_records_total",
    "wijkaanpak_webhook_attempts_total",
    "wijkaanpak_signals_overdue_total",
)
CODE_DIRS = ("shared", "services", "gateway")
_METRIC = re.compile(r"\bwijkaanpak_[a-z0-9_]+\b")


def exported_metrics(root: Path = REPO) -> set[str]:
    """Metric names the code declares (string literals), with the suffixes the client adds."""
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (root / folder).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for name in re.findall(r"[\"'](wijkaanpak_[a-z0-9_]+)[\"']", path.read_text(errors="replace")):
                base = name.removesuffix("_total")
                names.update({name, f"{base}_total", f"{base}_bucket", f"{base}_sum", f"{base}_count"})
    return names


def check_alerts(objs: Sequence[Obj], exported: set[str] | None = None) -> list[str]:
    """Every required metric has an alert, and every alert reads at least one metric the code exports."""
    exported = exported_metrics() if exported is None else exported
    errors: list[str] = []
    rules = [
        rule
        for pr in of_kind(objs, "PrometheusRule")
        for group in pr["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    used = {m for rule in rules for m in _METRIC.findall(str(rule["expr"]))}
    for metric in ALERT_METRICS:
        if metric not in used:
            errors.append(f"no alert on {metric}")
    for rule in rules:
        metrics = set(_METRIC.findall(str(rule["expr"])))
        if metrics and not metrics & exported:
            errors.append(
                f"alert {rule['alert']} reads {sorted(metrics)}, none of which the code in "
                f"{'/'.join(CODE_DIRS)} exports"
            )
        if rule.get("labels", {}).get("severity") not in ("info", "warning", "critical"):
            errors.append(f"alert {rule['alert']}: labels.severity must be info, warning or critical")
    return errors


# --------------------------------------------------------------------------- runbook

RUNBOOK = K8S_DIR / "RUNBOOK.md"
RUNBOOK_SECTIONS = ("## Upgrades", "## RPO and RTO", "## Restore drill", "## Restore to a point in time")
RESTORE_DRILL_TEST = "tests/stack/test_restore_drill.py"


def check_runbook(objs: Sequence[Obj], path: Path = RUNBOOK) -> list[str]:
    """RUNBOOK.md has a section per alert (`### <alert>` with **Means** and **Do**), upgrades,
    RPO/RTO and the restore drill (pointing at the test that runs it)."""
    if not path.exists():
        return [f"{path.name} is missing"]
    text = path.read_text()
    errors: list[str] = []
    sections = dict(re.findall(r"^### (\S+)\n(.*?)(?=^##|\Z)", text, re.M | re.S))
    alerts = sorted(
        {
            str(rule["alert"])
            for pr in of_kind(objs, "PrometheusRule")
            for group in pr["spec"]["groups"]
            for rule in group["rules"]
            if "alert" in rule
        }
    )
    for alert in alerts:
        body = sections.get(alert)
        if body is None:
            errors.append(f"{path.name}: no section `### {alert}` (what it means, what to do)")
        elif "**Means**" not in body or "**Do**" not in body:
            errors.append(f"{path.name}: section {alert} wants **Means** and **Do**")
    for heading in RUNBOOK_SECTIONS:
        if not re.search(rf"^{re.escape(heading)}\b", text, re.M):
            errors.append(f"{path.name}: no section `{heading}`")
    if RESTORE_DRILL_TEST not in text:
        errors.append(f"{path.name}: the restore drill must point at {RESTORE_DRILL_TEST}")
    return errors


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Sizes:
    brokers: int
    replication: int
    min_insync: int
    pg_instances: int
    backups: bool
    partitions: int
    service_replicas: int = 1


_PRODUCTION = Sizes(
    brokers=3, replication=3, min_insync=2, pg_instances=3, backups=True, partitions=12, service_replicas=2
)
EXPECTED: dict[str, Sizes] = {
    "dev": Sizes(brokers=1, replication=1, min_insync=1, pg_instances=1, backups=False, partitions=6),
    "production": _PRODUCTION,
    "restore": _PRODUCTION,
}


def check_sizes(objs: Sequence[Obj], expected: Sizes) -> list[str]:
    errors: list[str] = []
    kafkas = of_kind(objs, "Kafka")
    if len(kafkas) != 1:
        return [f"wants one Kafka, has {len(kafkas)}"]
    kafka = kafkas[0]
    config = kafka["spec"]["kafka"].get("config") or {}
    for key, value in (
        ("default.replication.factor", expected.replication),
        ("offsets.topic.replication.factor", expected.replication),
        ("transaction.state.log.replication.factor", expected.replication),
        ("min.insync.replicas", expected.min_insync),
        ("transaction.state.log.min.isr", expected.min_insync),
    ):
        if config.get(key) != value:
            errors.append(f"{ref(kafka)}: {key} is {config.get(key)!r}, wanted {value}")
    if config.get("auto.create.topics.enable") is not False:
        errors.append(f"{ref(kafka)}: auto.create.topics.enable must be false (topics come from KafkaTopics)")
    pools = [
        p
        for p in of_kind(objs, "KafkaNodePool")
        if p["metadata"].get("labels", {}).get("strimzi.io/cluster") == kafka["metadata"]["name"]
    ]
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    if brokers != expected.brokers:
        errors.append(f"Kafka has {brokers} brokers, wanted {expected.brokers}")
    if controllers % 2 != 1:
        errors.append(f"Kafka has {controllers} KRaft controllers; a quorum needs an odd number")
    for t in of_kind(objs, "KafkaTopic"):
        spec = t["spec"]
        got = (spec.get("partitions"), spec.get("replicas"), (spec.get("config") or {}).get("min.insync.replicas"))
        want = (expected.partitions, expected.replication, expected.min_insync)
        if got != want:
            errors.append(f"{ref(t)}: (partitions, replicas, min.insync.replicas) = {got}, wanted {want}")
    clusters = of_kind(objs, "Cluster")
    if len(clusters) != 1:
        errors.append(f"wants one CloudNativePG Cluster, has {len(clusters)}")
    else:
        pg = clusters[0]
        if pg["spec"]["instances"] != expected.pg_instances:
            errors.append(f"{ref(pg)}: {pg['spec']['instances']} instances, wanted {expected.pg_instances}")
        roles = {r["name"]: r for r in (pg["spec"].get("managed") or {}).get("roles") or []}
        for service in DB_SERVICES:
            role = roles.get(service)
            if role is None or not role.get("login") or "passwordSecret" not in role:
                errors.append(f"{ref(pg)}: wants a managed login role {service} with its own passwordSecret")
        secrets = [r["passwordSecret"]["name"] for r in roles.values() if "passwordSecret" in r]
        if len(secrets) != len(set(secrets)):
            errors.append(f"{ref(pg)}: managed roles share a password secret")
        has_store = bool((pg["spec"].get("backup") or {}).get("barmanObjectStore"))
        scheduled = [
            b for b in of_kind(objs, "ScheduledBackup") if b["spec"]["cluster"]["name"] == pg["metadata"]["name"]
        ]
        if expected.backups and not (has_store and scheduled):
            errors.append(f"{ref(pg)}: wants WAL archiving to an object store and a ScheduledBackup (PITR)")
        if not expected.backups and (has_store or scheduled):
            errors.append(f"{ref(pg)}: this overlay is not meant to back up")
        for db in of_kind(objs, "Database"):
            owners = {s["name"]: s.get("owner") for s in db["spec"].get("schemas") or []}
            for service in DB_SERVICES:
                if owners.get(service) != service:
                    errors.append(f"{ref(db)}: schema {service} must be owned by role {service}")
    for name, dep in by_name(objs, "Deployment").items():
        if name in HPA_SERVICES:
            hpa = by_name(objs, "HorizontalPodAutoscaler").get(name)
            if hpa and hpa["spec"]["minReplicas"] < expected.service_replicas:
                errors.append(f"HorizontalPodAutoscaler/{name}: minReplicas below {expected.service_replicas}")
            # A consumer group uses at most one member per partition. (The gateway's subscription
            # feed reads without a group, so every gateway replica reads everything.)
            if hpa and name != "gateway" and hpa["spec"]["maxReplicas"] > expected.partitions:
                errors.append(
                    f"HorizontalPodAutoscaler/{name}: maxReplicas above the {expected.partitions} "
                    "partitions: the extra consumers would sit idle"
                )
        elif dep["spec"].get("replicas", 1) < expected.service_replicas:
            errors.append(f"{ref(dep)}: {dep['spec'].get('replicas', 1)} replicas, wanted {expected.service_replicas}")
    env = next((c for c in of_kind(objs, "ConfigMap") if c["metadata"]["name"].startswith("wijkaanpak-config")), None)
    if env is None:
        errors.append("no wijkaanpak-config ConfigMap")
    else:
        data = env.get("data") or {}
        wanted_env = "production" if expected.backups else "dev"
        if data.get("WK_ENV") != wanted_env:
            errors.append(f"{ref(env)}: WK_ENV is {data.get('WK_ENV')!r}, wanted {wanted_env}")
        if wanted_env == "production" and data.get("WEBHOOK_ALLOWED_HOSTS"):
            errors.append(f"{ref(env)}: WEBHOOK_ALLOWED_HOSTS must be empty in production")
    return errors


# --------------------------------------------------------------------------- Dockerfile


def check_dockerfile(path: Path = DOCKERFILE) -> list[str]:
    """Multi-stage, slim base, final stage non-root and without build tools."""
    if not path.exists():
        return [f"{path.name} is missing"]
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    args: dict[str, str] = {}  # ARGs before the first FROM parameterise the FROM lines
    for ln in lines:
        if ln.upper().startswith("FROM "):
            break
        if ln.upper().startswith("ARG ") and "=" in ln:
            name, _, value = ln[4:].strip().partition("=")
            args[name] = value.strip("\"'")
    stages: list[list[str]] = []
    for ln in lines:
        if ln.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(ln)
    errors: list[str] = []
    if len(stages) < 2:
        errors.append("Dockerfile must be multi-stage (build, then runtime)")
        return errors
    final = stages[-1]
    base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), final[0].split()[1])
    if "slim" not in base:
        errors.append(f"final stage base {base} is not a slim image")
    users = [ln.split()[1] for ln in final if ln.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        errors.append("final stage must switch to a non-root USER")
    build_tools = re.compile(r"\b(gcc|g\+\+|build-essential|make|clang|libpq-dev|python3-dev)\b")
    for ln in final:
        if ln.upper().startswith("RUN ") and build_tools.search(ln):
            errors.append(f"final stage installs build tools: {ln}")
    if not any("requirements.lock" in ln for stage in stages for ln in stage):
        errors.append("Dockerfile must install from requirements.lock")
    return errors


# --------------------------------------------------------------------------- main


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def run(self, name: str, fn: Callable[..., list[str]], *args: Any) -> None:
        try:
            errors = fn(*args)
        except CheckError as exc:
            errors = [str(exc)]
        if errors:
            self.fail(name, errors)
        else:
            log(f"ok   {name}")

    def fail(self, name: str, errors: list[str]) -> None:
        log(f"FAIL {name}")
        for e in errors:
            print(f"    - {e}", flush=True)
        self.failures.extend(f"{name}: {e}" for e in errors)


def summary(objs: Sequence[Obj]) -> str:
    counts = Counter(str(o.get("kind")) for o in objs)
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s.check", description="offline check of deploy/k8s")
    parser.add_argument("--out", type=Path, help="also write each rendered overlay to DIR/<overlay>.yaml")
    parser.add_argument(
        "--release",
        action="store_true",
        help="fail on placeholders (example.org, documentation addresses) in the production overlays",
    )
    args = parser.parse_args(argv)
    report = Report()
    try:
        event_types = topics.catalog_event_types()
    except ImportError as exc:
        log(f"FAIL cannot import the event catalog (shared.events.catalog.EVENT_TYPES): {exc}")
        return 1
    log(f"event catalog: {len(event_types)} event types -> {2 * len(event_types)} topics")
    report.run("topics file is generated from the catalog", check_topics_file, event_types)
    report.run("Dockerfile", check_dockerfile)
    report.run(f"{SECRETS_EXAMPLE.name}: placeholders only", check_secrets_example)
    try:
        kustomize = ensure_kustomize()
    except CheckError as exc:
        log(f"FAIL {exc}")
        return 1
    log(f"kustomize {KUSTOMIZE_VERSION}: {kustomize}")
    log(
        f"schemas: Kubernetes {' and '.join(KUBERNETES_VERSIONS)} (kubernetes-validate "
        f"{kubernetes_validate.__version__}); " + "; ".join(sorted({s.pinned for s in crd_schemas().values()}))
    )
    for overlay in OVERLAYS:
        try:
            objs = render(overlay, kustomize)
        except CheckError as exc:
            report.fail(f"{overlay}: render", [str(exc)])
            continue
        log(f"{overlay}: rendered {len(objs)} objects ({summary(objs)})")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{overlay}.yaml").write_text(render_text(overlay, kustomize))
        report.run(f"{overlay}: schemas", validate_objects, objs)
        report.run(f"{overlay}: topics = catalog", check_topics, objs, event_types)
        report.run(f"{overlay}: workloads", check_workloads, objs)
        report.run(f"{overlay}: wiring", check_wiring, objs)
        report.run(f"{overlay}: sizes", check_sizes, objs, EXPECTED[overlay])
        report.run(f"{overlay}: alerts", check_alerts, objs)
        report.run(f"{overlay}: database host and policies", check_database, objs)
        report.run(f"{overlay}: restore", check_restore, objs, overlay == "restore")
        report.run(f"{overlay}: PostgreSQL keepalives and lock_timeout", check_postgres_settings, objs)
        report.run(f"{overlay}: Ingress serves the public paths only", check_ingress, objs)
        report.run(f"{overlay}: egress only where needed", check_egress, objs)
        report.run(f"{overlay}: every alert in {RUNBOOK.name}", check_runbook, objs)
        if overlay in RELEASE_OVERLAYS:
            text = render_text(overlay, kustomize)
            placeholders = check_placeholders(text)
            if args.release:
                report.run(f"{overlay}: no placeholders (--release)", check_placeholders, text)
            elif placeholders:
                log(f"note {overlay}: {len(placeholders)} placeholder line(s); `--release` fails on them")
    if report.failures:
        log(f"{len(report.failures)} problem(s)")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
