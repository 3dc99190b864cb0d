"""`make k8s-check` inside `make test`: both overlays render with the pinned kustomize and pass
every check of deploy/k8s/check.py; and the checks themselves catch the mistakes they are for."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from deploy.k8s import check, topics

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def kustomize() -> Path:
    return check.ensure_kustomize()


@pytest.fixture(scope="module")
def rendered(kustomize: Path) -> dict[str, list[Obj]]:
    return {overlay: check.render(overlay, kustomize) for overlay in check.OVERLAYS}


@pytest.fixture(scope="module")
def event_types() -> tuple[str, ...]:
    return topics.catalog_event_types()


def named(objs: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


# ------------------------------------------------------------------ the real manifests


def test_topics_file_is_generated_from_the_catalog(event_types: tuple[str, ...]) -> None:
    assert check.check_topics_file(event_types) == []


def test_dockerfile() -> None:
    assert check.check_dockerfile() == []


def test_secrets_example_holds_placeholders_only(tmp_path: Path) -> None:
    assert check.check_secrets_example() == []
    leaked = tmp_path / "secrets.yaml"
    leaked.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {SMTP_PASSWORD: hunter2}\n")
    assert check.check_secrets_example(leaked) == ["Secret/x: SMTP_PASSWORD must be a REPLACE-WITH-... placeholder"]


@pytest.mark.parametrize("overlay", check.OVERLAYS)
def test_overlay_validates_against_kubernetes_and_crd_schemas(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objs = rendered[overlay]
    assert len(objs) > 80
    assert check.validate_objects(objs) == []


@pytest.mark.parametrize("overlay", check.OVERLAYS)
def test_overlay_topics_equal_the_catalog(
    rendered: dict[str, list[Obj]], overlay: str, event_types: tuple[str, ...]
) -> None:
    assert check.check_topics(rendered[overlay], event_types) == []
    names = {t["spec"]["topicName"] for t in rendered[overlay] if t["kind"] == "KafkaTopic"}
    assert "goal.review_due" in names and "goal.review_due.dlq" in names


@pytest.mark.parametrize("overlay", check.OVERLAYS)
def test_overlay_workloads_wiring_and_sizes(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objs = rendered[overlay]
    assert check.check_workloads(objs) == []
    assert check.check_wiring(objs) == []
    assert check.check_sizes(objs, check.EXPECTED[overlay]) == []
    assert check.check_alerts(objs) == []


def test_overlays_differ_where_they_should(rendered: dict[str, list[Obj]]) -> None:
    dev, prod = rendered["dev"], rendered["production"]
    assert {o["metadata"].get("namespace") for o in dev if o["kind"] != "Namespace"} == {"wijkaanpak-dev"}
    assert {o["metadata"].get("namespace") for o in prod if o["kind"] != "Namespace"} == {"wijkaanpak"}
    assert {o["metadata"].get("namespace") for o in rendered["restore"] if o["kind"] != "Namespace"} == {"wijkaanpak"}
    assert named(prod, "Cluster", "wijkaanpak-pg")["spec"]["instances"] == 3
    assert not [o for o in dev if o["kind"] == "ScheduledBackup"]
    assert [o["spec"]["roles"] for o in prod if o["kind"] == "KafkaNodePool"] == [["broker"], ["controller"]]


def test_main_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check.main([]) == 0
    assert "all checks passed" in capsys.readouterr().out


def test_main_fails_when_the_topics_file_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "topics.yaml"
    stale.write_text(topics.TOPICS_FILE.read_text().replace("signal.overdue", "signal.late"))
    monkeypatch.setattr(topics, "TOPICS_FILE", stale)
    assert check.main([]) == 1
    out = capsys.readouterr().out
    assert "FAIL topics file is generated from the catalog" in out
    assert "run `python -m deploy.k8s.topics`" in out


# ------------------------------------------------------------------ the checks catch mistakes


def test_strict_kubernetes_schema_rejects_unknown_field(rendered: dict[str, list[Obj]]) -> None:
    dep = copy.deepcopy(named(rendered["dev"], "Deployment", "signals"))
    dep["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert any("readinesProbe" in e for e in check.validate_objects([dep]))
    # the cached validators judge as kubernetes-validate's own entry point does
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, check.KUBERNETES_VERSIONS[-1], strict=True)
    for obj in rendered["production"]:
        if (
            "postgresql" not in obj["apiVersion"]
            and "strimzi" not in obj["apiVersion"]
            and "monitoring.coreos.com" not in obj["apiVersion"]
        ):
            kubernetes_validate.validate(obj, check.KUBERNETES_VERSIONS[0], strict=True)


def test_crd_schema_rejects_typo_and_bad_values(rendered: dict[str, list[Obj]]) -> None:
    topic = copy.deepcopy(next(o for o in rendered["dev"] if o["kind"] == "KafkaTopic"))
    topic["spec"]["partition"] = 3
    pool = copy.deepcopy(next(o for o in rendered["dev"] if o["kind"] == "KafkaNodePool"))
    pool["spec"]["roles"] = ["zookeeper"]
    pg = copy.deepcopy(named(rendered["dev"], "Cluster", "wijkaanpak-pg"))
    pg["spec"]["postgresql"]["parameters"]["max_connections"] = 300  # CloudNativePG wants strings
    errors = check.validate_objects([topic, pool, pg])
    assert any("partition" in e and "KafkaTopic" in e for e in errors)
    assert any("zookeeper" in e for e in errors)
    assert any("max_connections" in e or "300" in e for e in errors)


def test_unknown_custom_resource_is_refused() -> None:
    obj = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert any("no schema" in e for e in check.validate_objects([obj]))


def test_workload_check_catches_missing_probe_root_and_limits(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["dev"])
    dep = named(objs, "Deployment", "partners")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    del container["resources"]["limits"]
    dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    container["securityContext"]["readOnlyRootFilesystem"] = False
    errors = "\n".join(check.check_workloads(objs))
    for expected in ("readinessProbe", "resources.limits.cpu", "runAsNonRoot", "readOnlyRootFilesystem"):
        assert expected in errors


def test_topic_check_catches_drift(rendered: dict[str, list[Obj]], event_types: tuple[str, ...]) -> None:
    stand_in = (*event_types, "signal.archived")
    errors = check.check_topics(rendered["dev"], stand_in)
    assert errors == ["KafkaTopics missing for catalog topics: signal.archived, signal.archived.dlq"]
    assert check.check_topics_file(stand_in) != []
    fewer = check.check_topics(rendered["dev"], event_types[1:])
    assert fewer and "not in the event catalog" in fewer[0]


def test_wiring_catches_undocumented_secret_and_exposed_service(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["production"])
    dep = named(objs, "Deployment", "goals")
    dep["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "not-documented", "key": "x"}}}
    )
    policy = named(objs, "NetworkPolicy", "goals-ingress")
    policy["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})
    errors = "\n".join(check.check_wiring(objs))
    assert "Secret not-documented" in errors
    assert "only the gateway may be reachable" in errors


def test_size_check_catches_a_single_broker_in_production(rendered: dict[str, list[Obj]]) -> None:
    errors = check.check_sizes(rendered["dev"], check.EXPECTED["production"])
    assert any("brokers" in e for e in errors)
    assert any("min.insync.replicas" in e for e in errors)
    assert any("instances" in e for e in errors)


def test_alert_check_catches_metrics_nobody_exports(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["dev"])
    errors = check.check_alerts(objs, exported={"wijkaanpak_outbox_pending"})
    assert any("WijkaanpakConsumerLag" in e for e in errors)
    assert not any("WijkaanpakOutboxLag" in e for e in errors)
    rule = named(objs, "PrometheusRule", "wijkaanpak")
    rule["spec"]["groups"] = [g for g in rule["spec"]["groups"] if g["name"] != "wijkaanpak.signals"]
    assert "no alert on wijkaanpak_signals_overdue_total" in check.check_alerts(objs)


# ------------------------------------------------------------------ the topic generator


def test_topic_generator_makes_dns_safe_names_and_keeps_topic_names() -> None:
    docs = topics.kafka_topics(["goal.review_due", "signal.received"])
    assert [(d["metadata"]["name"], d["spec"]["topicName"]) for d in docs] == [
        ("goal.review-due", "goal.review_due"),
        ("goal.review-due.dlq", "goal.review_due.dlq"),
        ("signal.received", "signal.received"),
        ("signal.received.dlq", "signal.received.dlq"),
    ]
    assert all(d["metadata"]["labels"]["strimzi.io/cluster"] == "wijkaanpak" for d in docs)


def test_topic_generator_refuses_colliding_or_invalid_names() -> None:
    with pytest.raises(ValueError, match="same object name"):
        topics.kafka_topics(["goal.review_due", "goal.review-due"])
    with pytest.raises(ValueError):
        topics.kafka_topics(["no spaces allowed"])
    with pytest.raises(ValueError, match="duplicate"):
        topics.kafka_topics(["a.b", "a.b"])


# ------------------------------------------------------------------ restore and the database host


def test_restore_overlay_recovers_from_the_old_clusters_folder(rendered: dict[str, list[Obj]]) -> None:
    restore = rendered["restore"]
    pg = named(restore, "Cluster", "wijkaanpak-pg-restore")
    recovery = pg["spec"]["bootstrap"]["recovery"]
    assert "initdb" not in pg["spec"]["bootstrap"]
    origin = next(e for e in pg["spec"]["externalClusters"] if e["name"] == recovery["source"])
    assert origin["barmanObjectStore"]["serverName"] == "wijkaanpak-pg"
    prod_store = named(rendered["production"], "Cluster", "wijkaanpak-pg")["spec"]["backup"]["barmanObjectStore"]
    assert origin["barmanObjectStore"]["destinationPath"] == prod_store["destinationPath"]
    assert recovery["recoveryTarget"]["targetTime"] == "2026-03-01 09:30:00.000000+00:00"  # a string, not a datetime
    assert check.config_data(restore)["DB_HOST"] == "wijkaanpak-pg-restore-rw"
    assert named(restore, "Database", "wijkaanpak")["spec"]["cluster"]["name"] == "wijkaanpak-pg-restore"
    assert check.check_restore(restore, required=True) == []
    assert check.check_database(restore) == []
    assert check.check_restore(rendered["production"], required=True) == [
        "Cluster/wijkaanpak-pg: wants bootstrap.recovery (this overlay restores)"
    ]


def test_restore_check_catches_a_missing_server_name_and_target(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["restore"])
    pg = named(objs, "Cluster", "wijkaanpak-pg-restore")
    del pg["spec"]["externalClusters"][0]["barmanObjectStore"]["serverName"]
    pg["spec"]["bootstrap"]["recovery"]["recoveryTarget"] = {}
    errors = "\n".join(check.check_restore(objs, required=True))
    assert "serverName" in errors and "recoveryTarget" in errors
    pg["spec"]["externalClusters"][0]["barmanObjectStore"]["serverName"] = "wijkaanpak-pg-restore"
    assert any("restore into a new cluster" in e for e in check.check_restore(objs, required=True))


def test_restore_component_validates_against_the_cnpg_schema(rendered: dict[str, list[Obj]]) -> None:
    pg = copy.deepcopy(named(rendered["restore"], "Cluster", "wijkaanpak-pg-restore"))
    assert check.validate_objects([pg]) == []
    pg["spec"]["externalClusters"][0]["barmanObjectStore"]["servername"] = "typo"
    assert any("servername" in e for e in check.validate_objects([pg]))


def test_database_check_catches_a_hard_coded_host_and_policies_by_cluster_name(
    rendered: dict[str, list[Obj]],
) -> None:
    objs = copy.deepcopy(rendered["restore"])
    job = named(objs, "Job", "goals-migrate")
    url = next(e for e in job["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "GOALS_DATABASE_URL")
    url["value"] = url["value"].replace("$(DB_HOST)", "wijkaanpak-pg-rw")
    policy = named(objs, "NetworkPolicy", "postgres")
    policy["spec"]["podSelector"] = {"matchLabels": {"cnpg.io/cluster": "wijkaanpak-pg"}}
    errors = "\n".join(check.check_database(objs))
    assert "Job/goals-migrate: GOALS_DATABASE_URL must take its host from $(DB_HOST)" in errors
    assert "NetworkPolicy/postgres: selects PostgreSQL by cnpg.io/cluster" in errors
    assert "no NetworkPolicy admits signals to the pods of Cluster/wijkaanpak-pg-restore on 5432" in errors


# ------------------------------------------------------------------ PostgreSQL keepalives and lock_timeout


@pytest.mark.parametrize("overlay", check.OVERLAYS)
def test_postgres_has_keepalives_and_lock_timeout(rendered: dict[str, list[Obj]], overlay: str) -> None:
    assert check.check_postgres_settings(rendered[overlay]) == []
    params = next(o for o in rendered[overlay] if o["kind"] == "Cluster")["spec"]["postgresql"]["parameters"]
    assert params["tcp_user_timeout"] == "60000"


def test_postgres_settings_check_catches_missing_keepalives_and_lock_timeout(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["production"])
    pg = named(objs, "Cluster", "wijkaanpak-pg")
    del pg["spec"]["postgresql"]["parameters"]["tcp_keepalives_idle"]
    sql = pg["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]
    pg["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"] = [s for s in sql if "lock_timeout" not in s]
    errors = "\n".join(check.check_postgres_settings(objs))
    assert "tcp_keepalives_idle must be a positive integer" in errors
    assert "lock_timeout" in errors
    pg["spec"]["postgresql"]["parameters"]["tcp_keepalives_idle"] = "7200"
    pg["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"] = [*sql]
    assert check.check_postgres_settings(objs) == [
        "Cluster/wijkaanpak-pg: a dead idle client is noticed after 7230 s, wanted <= 120"
    ]


# ------------------------------------------------------------------ the edge: Ingress, egress, placeholders


@pytest.mark.parametrize("overlay", check.OVERLAYS)
def test_ingress_and_egress(rendered: dict[str, list[Obj]], overlay: str) -> None:
    assert check.check_ingress(rendered[overlay]) == []
    assert check.check_egress(rendered[overlay]) == []
    ingress = named(rendered[overlay], "Ingress", "gateway")
    paths = {(p["path"], p["pathType"]) for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {("/graphql", "Exact"), ("/v1", "Prefix"), ("/open311", "Prefix")}


def test_ingress_check_catches_internal_paths(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["production"])
    paths = named(objs, "Ingress", "gateway")["spec"]["rules"][0]["http"]["paths"]
    paths[0] = {**paths[0], "path": "/", "pathType": "Prefix"}
    errors = "\n".join(check.check_ingress(objs))
    assert "exposes /, /metrics, /readyz, /healthz, /docs" in errors


def test_egress_check_catches_every_service_to_the_internet(rendered: dict[str, list[Obj]]) -> None:
    objs = copy.deepcopy(rendered["production"])
    idp = named(objs, "NetworkPolicy", "services-to-identity-provider")
    idp["spec"]["egress"][0]["to"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    errors = check.check_egress(objs)
    assert len(errors) == 1 and "NetworkPolicy/services-to-identity-provider: lets ['gateway', 'goals'" in errors[0]
    idp["spec"]["egress"] = [{}]
    assert "open egress" in check.check_egress(objs)[0]
    # notifications alone may: its webhook rule is not reported
    assert not any("notifications-to-internet" in e for e in check.check_egress(objs))


def test_release_check_refuses_placeholders_in_production(
    kustomize: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = check.render_text("production", kustomize)
    errors = check.check_placeholders(text)
    assert any("PUBLIC_BASE_URL: https://wijkaanpak.example.org" in e for e in errors)
    assert any("cidr: 192.0.2.0/24" in e for e in errors)
    site = (
        text.replace("example.org", "veiligheidsregio.test")
        .replace("192.0.2.0/24", "10.20.0.0/24")
    )
    assert check.check_placeholders(site) == []
    assert check.main(["--release"]) == 1
    out = capsys.readouterr().out
    assert "FAIL production: no placeholders (--release)" in out
    assert "FAIL restore: no placeholders (--release)" in out
    assert "FAIL dev" not in out


# ------------------------------------------------------------------ the runbook


def test_runbook_covers_every_alert_upgrades_rpo_and_the_drill(rendered: dict[str, list[Obj]]) -> None:
    assert check.check_runbook(rendered["production"]) == []
    assert (check.REPO / check.RESTORE_DRILL_TEST).exists()


def test_runbook_check_catches_an_alert_without_a_section(rendered: dict[str, list[Obj]], tmp_path: Path) -> None:
    objs = copy.deepcopy(rendered["production"])
    rule = named(objs, "PrometheusRule", "wijkaanpak")
    rule["spec"]["groups"][0]["rules"].append(
        {"alert": "WijkaanpakNew", "expr": "wijkaanpak_outbox_pending > 1", "labels": {"severity": "info"}}
    )
    assert check.check_runbook(objs) == ["RUNBOOK.md: no section `### WijkaanpakNew` (what it means, what to do)"]
    short = tmp_path / "RUNBOOK.md"
    short.write_text(check.RUNBOOK.read_text().replace("**Do**: roll back", "roll back").split("## RPO and RTO")[0])
    errors = check.check_runbook(rendered["production"], short)
    assert "RUNBOOK.md: section WijkaanpakDeadLetterRateHigh wants **Means** and **Do**" in errors
    assert "RUNBOOK.md: no section `## Upgrades`" in errors
    assert "RUNBOOK.md: no section `## RPO and RTO`" in errors
