#!/usr/bin/env python3
"""Offline checks of the Helm chart charts/docket: no cluster, no helm binary.

    python3 -m pip install helm-python-sdk kubernetes-validate   # once
    python3 tests/chart/check.py [-v]

1. Lints the chart and renders it with helm-python-sdk (Helm v4's Go library)
   for the default values and each values file under tests/chart/values/.
2. Validates every rendered object with kubernetes-validate (strict: unknown
   fields fail) against Kubernetes 1.30 and the newest version it knows; the
   Prometheus Operator CRDs are checked structurally here instead.
3. Checks what the chart means: security defaults, secrets only through
   secretKeyRef, `serve <targets>`, service URLs that reach a Service running
   that target, probes, the migration hook, config checksums, appProtocol,
   tokens, settings that Docket knows (read from src/settings.rs), alerts and
   dashboard using only Docket's metrics, and a commented values.yaml.
4. Feeds the schema a table of bad values: each render must fail, naming the key.

Prints one line per check; exits 0 only if every check passed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

PIP = "python3 -m pip install helm-python-sdk kubernetes-validate"
try:
    import yaml
    import helm_python as helm
    import kubernetes_validate
    import kubernetes_validate.utils as kv_utils
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the machine
    print(f"FAIL  a module is missing ({missing.name}): install the packages with\n      {PIP}")
    sys.exit(2)

ROOT = Path(__file__).resolve().parents[2]
# DOCKET_CHART: check another copy of the chart (e.g. a deliberately broken one).
CHART = Path(os.environ.get("DOCKET_CHART", ROOT / "charts" / "docket"))
VALUES_DIR = Path(__file__).resolve().parent / "values"
RELEASE = "rel"
NAMESPACE = "docket"
VERBOSE = "-v" in sys.argv

# Filled in by main(): the chart's components, and the consuming services of src/app.rs.
COMPONENTS: list[str] = []
CONSUMERS: list[str] = []
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# The metrics Docket exports (README, Metrics); histograms also as _bucket/_sum/_count.
METRICS = {
    "docket_grpc_requests_total", "docket_http_requests_total", "docket_events_published_total",
    "docket_outbox_backlog", "docket_events_consumed_total", "docket_events_dead_letters",
    "docket_emails_sent_total", "docket_emails_failed_total", "docket_emails_pending",
    "docket_sla_breaches_total", "docket_sla_warnings_total", "docket_sla_clocks_due_total",
    "docket_outbox_oldest_unsent_age_seconds", "docket_db_pool_connections", "docket_db_pool_connections_in_use",
    "docket_portal_logins_total",
}
HISTOGRAMS = {"docket_grpc_request_duration_seconds", "docket_http_request_duration_seconds",
              "docket_email_send_duration_seconds", "docket_db_pool_acquire_seconds"}
ALERTS = {"DocketOutboxBacklogHigh", "DocketOutboxBacklogGrowing", "DocketDeadLetters", "DocketSlaBreaches",
          "DocketGrpcErrorRate", "DocketEmailsFailed", "DocketEmailRetriesRising"}
# Settings whose values are secret: they may reach a pod only through secretKeyRef.
SECRET_ENV = re.compile(
    r"^DOCKET__(DATABASE__URL|EVENTS__URL|KV__URL|NOTIFICATION__SMTP_PASSWORD|GATEWAY__SECRET_KEY"
    r"|[A-Z]+__SERVICE_TOKEN|AUTH__TOKENS__[A-Z0-9_]+__TOKEN)$")
SECRET_SETTINGS = {("database", "url"), ("events", "url"), ("kv", "url"), ("notification", "smtp_password"),
                   ("gateway", "secret_key")}

# ---------------------------------------------------------------- reporting

results: list[tuple[bool, str]] = []


def check(name: str, fn: Callable[[], Any]) -> None:
    """Runs one check: it passes unless it raises; prints one line."""
    try:
        detail = fn()
        results.append((True, name))
        print(f"ok    {name}" + (f" ({detail})" if detail and VERBOSE else ""))
    except Exception as err:  # noqa: BLE001 - every failure is reported the same way
        results.append((False, name))
        text = str(err).strip().replace("\n", "\n      ")
        print(f"FAIL  {name}: {text}")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


# ---------------------------------------------------------------- rendering


class Render:
    """One rendered release: its objects and lookup helpers."""

    def __init__(self, label: str, values: dict[str, Any], manifests: dict[str, str]):
        self.label = label
        self.values = values
        self.manifests = manifests
        self.objects: list[dict[str, Any]] = []
        for path, text in manifests.items():
            if path.endswith("NOTES.txt"):
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    doc.setdefault("metadata", {})
                    self.objects.append({**doc, "__source": path})
        self.merged = chart.merge_values(values)

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def deployments(self) -> list[dict[str, Any]]:
        return self.kind("Deployment")

    def pods(self) -> list[tuple[str, dict[str, Any]]]:
        """Every pod spec with a name: Deployments, Jobs, bare Pods."""
        specs = []
        for o in self.objects:
            if o["kind"] in ("Deployment", "Job"):
                specs.append((f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"]))
            elif o["kind"] == "Pod":
                specs.append((f"Pod/{o['metadata']['name']}", o["spec"]))
        return specs

    def settings(self) -> dict[str, Any]:
        (cm,) = [o for o in self.kind("ConfigMap") if "docket.toml" in o.get("data", {})]
        return tomllib.loads(cm["data"]["docket.toml"])

    def enabled(self) -> list[str]:
        return [c for c in COMPONENTS if self.merged["components"][c]["enabled"]]


def values_file(name: str) -> dict[str, Any]:
    return helm.values_from_yaml((VALUES_DIR / name).read_text())


def render(values: dict[str, Any] | None, name: str = RELEASE) -> dict[str, str]:
    return chart.render(values or {}, name=name, namespace=NAMESPACE, is_install=True)


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------- Docket's own settings


def docket_setting_keys() -> set[tuple[str, str]]:
    """(section, key) of every setting the binary knows: the DEFAULTS of src/settings.rs."""
    source = (ROOT / "src" / "settings.rs").read_text()
    match = re.search(r'pub const DEFAULTS: &str = r##"(.*?)"##;', source, re.S)
    expect(match is not None, "src/settings.rs has no DEFAULTS")
    defaults = tomllib.loads(match.group(1))
    return {(section, key) for section, keys in defaults.items() for key in keys}


def docket_targets_and_consumers() -> tuple[set[str], list[str]]:
    """`docket serve` targets (enum Target) and the services that consume events (CONSUMERS), from src/app.rs."""
    source = (ROOT / "src" / "app.rs").read_text()
    enum = re.search(r"pub enum Target \{(.*?)\n\}", source, re.S)
    consumers = re.search(r"pub const CONSUMERS: .*? = &\[(.*?)\];", source, re.S)
    expect(enum is not None and consumers is not None, "src/app.rs has no Target or CONSUMERS")
    targets = {v.lower() for v in re.findall(r"^\s*([A-Z][A-Za-z]*),\s*$", enum.group(1), re.M)}
    return targets, re.findall(r"docket_([a-z]+)::SERVICE", consumers.group(1))


# ---------------------------------------------------------------- checks of one render


def check_security(r: Render) -> str:
    n = 0
    for where, pod in r.pods():
        expect(pod.get("automountServiceAccountToken") is False, f"{where}: automountServiceAccountToken is not false")
        psc = pod.get("securityContext", {})
        expect(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001, f"{where}: pod securityContext {psc}")
        expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: pod seccompProfile")
        for c in pod.get("initContainers", []) + pod["containers"]:
            sc = c.get("securityContext", {})
            who = f"{where} container {c['name']}"
            expect(sc.get("runAsNonRoot") is True, f"{who}: runAsNonRoot")
            expect(sc.get("runAsUser") == 10001, f"{who}: runAsUser {sc.get('runAsUser')}")
            expect(sc.get("readOnlyRootFilesystem") is True, f"{who}: readOnlyRootFilesystem")
            expect(sc.get("allowPrivilegeEscalation") is False, f"{who}: allowPrivilegeEscalation")
            expect(sc.get("privileged") in (None, False), f"{who}: privileged")
            expect("ALL" in sc.get("capabilities", {}).get("drop", []), f"{who}: capabilities not all dropped")
            expect(not sc.get("capabilities", {}).get("add"), f"{who}: adds capabilities")
            expect(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{who}: seccompProfile")
            n += 1
    sa = r.kind("ServiceAccount")
    if r.merged["serviceAccount"]["create"]:
        expect(len(sa) == 1 and sa[0].get("automountServiceAccountToken") is False, "one ServiceAccount, token not mounted")
        want = sa[0]["metadata"]["name"]
    else:
        expect(not sa, "serviceAccount.create is false, yet one was rendered")
        want = r.merged["serviceAccount"]["name"] or "default"
    for d in r.deployments():
        got = d["spec"]["template"]["spec"].get("serviceAccountName")
        expect(got == want, f"{d['metadata']['name']} runs as ServiceAccount {got}, expected {want}")
    return f"{n} containers"


def check_secrets(r: Render) -> str:
    expect(not r.kind("Secret"), "the chart rendered a Secret")
    refs = 0
    allowed = set()
    s = r.merged["secrets"]
    for ref in [s["databaseUrl"], s["eventsUrl"], s["kvUrl"], s["gatewaySecretKey"], s["smtpPassword"],
                *s.get("extraTokens", {}).values(), *(r.merged["components"][c]["serviceToken"] for c in COMPONENTS)]:
        allowed.add((ref["existingSecret"], ref["key"]))
    for where, pod in r.pods():
        for c in pod["containers"]:
            for name, e in env_of(c).items():
                secret_ref = e.get("valueFrom", {}).get("secretKeyRef")
                if SECRET_ENV.match(name):
                    expect("value" not in e and secret_ref is not None,
                           f"{where}: {name} is a secret but not from a secretKeyRef: {e}")
                if secret_ref:
                    refs += 1
                    expect((secret_ref["name"], secret_ref["key"]) in allowed,
                           f"{where}: {name} reads {secret_ref}, which values do not name")
    credentials = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^@\s\"']+@")
    for path, text in r.manifests.items():
        found = credentials.search(text)
        expect(found is None, f"{path} renders a URL with credentials: {found and found.group(0)}")
    for cm in r.kind("ConfigMap"):
        for key, text in cm.get("data", {}).items():
            if key.endswith(".toml"):
                settings = tomllib.loads(text)
                expect("auth" not in settings, f"ConfigMap {cm['metadata']['name']} has [auth]")
                for section, keys in settings.items():
                    for k in keys:
                        expect((section, k) not in SECRET_SETTINGS and not k.endswith("service_token"),
                               f"ConfigMap {cm['metadata']['name']} holds the secret {section}.{k}")
    return f"{refs} secretKeyRefs"


def check_args(r: Render) -> str:
    enabled = r.enabled()
    expected_count = 1 if r.merged["layout"] == "monolithic" else len(enabled)
    deps = r.deployments()
    expect(len(deps) == expected_count, f"{len(deps)} Deployments, expected {expected_count}")
    for d in deps:
        (c,) = d["spec"]["template"]["spec"]["containers"]
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        targets = enabled if component == "monolith" else [component]
        expect(c["args"][0] == "serve" and sorted(c["args"][1:]) == sorted(targets),
               f"{d['metadata']['name']}: args {c['args']}, expected serve {targets}")
        otel = env_of(c)["OTEL_SERVICE_NAME"]["value"]
        expect(otel == ("docket" if component == "monolith" else f"docket-{component}"),
               f"{d['metadata']['name']}: OTEL_SERVICE_NAME {otel}")
    return f"{len(deps)} Deployments"


def services_running(r: Render, target: str, port: int) -> list[str]:
    """Services with a gRPC `port` (appProtocol grpc) whose selector picks a Deployment serving `target`."""
    found = []
    for svc in r.kind("Service"):
        ports = [p for p in svc["spec"]["ports"] if p["port"] == port and p.get("appProtocol") == "grpc"]
        if not ports:
            continue
        for d in r.deployments():
            (c,) = d["spec"]["template"]["spec"]["containers"]
            if labels_match(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]) and target in c["args"][1:]:
                names = {p["name"] for p in c["ports"]}
                expect(ports[0]["targetPort"] in names or ports[0]["targetPort"] == port,
                       f"Service {svc['metadata']['name']} targets a port the pod lacks")
                found.append(svc["metadata"]["name"])
    return found


def check_urls(r: Render) -> str:
    urls: list[tuple[str, str]] = []
    for section, keys in r.settings().items():
        for key, value in keys.items():
            if key.endswith("_service_url"):
                urls.append((f"{section}.{key}", value))
    for _, pod in r.pods():
        for c in pod["containers"]:
            for name, e in env_of(c).items():
                if name.endswith("_SERVICE_URL"):
                    urls.append((name, e["value"]))
    expected = {"notification.case_service_url", "notification.portal_service_url", "billing.case_service_url",
                "portal.case_service_url", "knowledge.case_service_url", "gateway.case_service_url", "gateway.portal_service_url",
                "gateway.billing_service_url", "gateway.knowledge_service_url"}
    expect(expected <= {k for k, _ in urls}, f"missing: {sorted(expected - {k for k, _ in urls})}")
    if "billing" in r.enabled() and "case" in r.enabled():
        expect(any(k == "DOCKET__CASE__BILLING_SERVICE_URL" for k, _ in urls), "case.billing_service_url not set")
    enabled = r.enabled()
    checked = 0
    for key, url in urls:
        target = re.search(r"(case|portal|billing|notification|knowledge)_service_url", key.lower()).group(1)
        if target not in enabled:
            continue
        m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url)
        expect(m is not None, f"{key} = {url!r} is not http://<service>:<port>")
        host, port = m.group(1), int(m.group(2))
        runners = services_running(r, target, port)
        expect(host in runners, f"{key} = {url}: no Service {host}:{port} in front of pods serving {target} "
                                f"(Services serving it: {runners})")
        checked += 1
    # The public address follows the Ingress.
    ing = r.merged["ingress"]
    base = r.settings()["gateway"]["public_base_url"]
    if r.merged.get("publicBaseUrl"):
        expect(base == r.merged["publicBaseUrl"], f"public_base_url {base}")
    elif ing["enabled"]:
        tls = any(ing["host"] in t["hosts"] for t in ing["tls"])
        expect(base == f"{'https' if tls else 'http'}://{ing['host']}", f"public_base_url {base} for Ingress {ing}")
    return f"{checked} URLs"


def check_probes(r: Render) -> str:
    grpc_port = r.merged["ports"]["grpc"]
    for d in r.deployments():
        name = d["metadata"]["name"]
        (c,) = d["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            expect(kind in c, f"{name}: no {kind}")
        serves_grpc = any(t != "gateway" for t in c["args"][1:])
        serves_http = "gateway" in c["args"][1:]
        if serves_grpc:
            expect(ports.get("grpc") == grpc_port, f"{name}: gRPC container port {ports}")
            for kind in ("startupProbe", "readinessProbe"):
                expect(c[kind].get("grpc", {}).get("port") == grpc_port, f"{name}: {kind} is not gRPC health on {grpc_port}")
            if not serves_http:
                # Alive is "answers on the port": a database outage must not restart the pods.
                expect(c["livenessProbe"].get("tcpSocket", {}).get("port") in ("grpc", grpc_port),
                       f"{name}: livenessProbe is not a TCP check of the gRPC port")
        if serves_http:
            expect("http" in ports, f"{name}: no http port")
            live = c["livenessProbe"].get("httpGet", {})
            expect(live.get("path") == "/healthz" and live.get("port") in ("http", ports["http"]),
                   f"{name}: liveness is not GET /healthz on the HTTP port")
            if not serves_grpc:
                ready = c["readinessProbe"].get("httpGet", {})
                expect(ready.get("path") == "/readyz" and ready.get("port") in ("http", ports["http"]),
                       f"{name}: readiness is not GET /readyz on the HTTP port")
                start = c["startupProbe"].get("httpGet", {})
                expect(start.get("path") == "/healthz", f"{name}: startup is not GET /healthz")
        expect(c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 60,
               f"{name}: the startup probe allows less than a minute")
    return f"{len(r.deployments())} Deployments"


def check_migration(r: Render) -> str:
    jobs = r.kind("Job")
    if not r.merged["migrations"]["enabled"]:
        expect(not jobs, "migrations are off but a Job was rendered")
        return "off"
    (job,) = jobs
    ann = job["metadata"].get("annotations", {})
    hooks = set(ann.get("helm.sh/hook", "").split(","))
    expect({"pre-install", "pre-upgrade"} <= hooks, f"hook annotation {ann.get('helm.sh/hook')}")
    expect("helm.sh/hook-delete-policy" in ann, "no hook-delete-policy")
    (c,) = job["spec"]["template"]["spec"]["containers"]
    expect(c["args"] == ["migrate", "up"], f"migration args {c['args']}")
    env = env_of(c)
    expect("secretKeyRef" in env["DOCKET__DATABASE__URL"]["valueFrom"], "database URL not from a Secret")
    expect(job["spec"]["template"]["spec"]["restartPolicy"] == "Never", "restartPolicy")
    expect(job["spec"]["template"]["spec"].get("serviceAccountName") not in {sa["metadata"]["name"] for sa in r.kind("ServiceAccount")},
           "a pre-install hook cannot use the release's ServiceAccount: it does not exist yet")
    expect(not any(v.get("configMap") for v in job["spec"]["template"]["spec"].get("volumes", [])),
           "a pre-install hook cannot mount the release's ConfigMap: it does not exist yet")
    # Pods wait for it: the settings say so.
    expect(r.settings()["database"]["migrate_on_start"] is False, "migrate_on_start is not false")
    return ann["helm.sh/hook"]


def check_checksum(r: Render) -> str:
    digest = hashlib.sha256(r.manifests["docket/templates/configmap.yaml"].encode()).hexdigest()
    for d in r.deployments():
        ann = d["spec"]["template"]["metadata"].get("annotations", {})
        expect(ann.get("checksum/config") == digest,
               f"{d['metadata']['name']}: checksum/config {ann.get('checksum/config')} != sha256 of the ConfigMap")
        (c,) = d["spec"]["template"]["spec"]["containers"]
        expect(env_of(c)["DOCKET_CONFIG"]["value"] == "/etc/docket/docket.toml", "DOCKET_CONFIG")
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        expect(mounts.get("/etc/docket", {}).get("readOnly") is True, f"{d['metadata']['name']}: config not mounted read-only")
    return digest[:12]


def check_services(r: Render) -> str:
    n = 0
    for svc in r.kind("Service"):
        for p in svc["spec"]["ports"]:
            want = "grpc" if p["name"] == "grpc" else "http"
            expect(p.get("appProtocol") == want, f"Service {svc['metadata']['name']} port {p['name']}: appProtocol {p.get('appProtocol')}")
            n += 1
        expect(any(labels_match(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"]) for d in r.deployments()),
               f"Service {svc['metadata']['name']} selects no Deployment")
        expect(any(p["name"] == "metrics" and p["port"] == r.merged["metrics"]["port"] for p in svc["spec"]["ports"]),
               f"Service {svc['metadata']['name']} has no metrics port")
    return f"{n} ports"


def check_settings(r: Render, known: set[tuple[str, str]]) -> str:
    settings = r.settings()
    for section, keys in settings.items():
        for key in keys:
            expect((section, key) in known, f"docket.toml sets {section}.{key}, which Docket does not know")
    expect(settings["telemetry"]["log_format"] == "json", "log_format")
    expect(settings["telemetry"]["metrics_listen"] == f"0.0.0.0:{r.merged['metrics']['port']}", "metrics_listen")
    expect(settings["grpc"]["listen"] == f"0.0.0.0:{r.merged['ports']['grpc']}", "grpc.listen")
    expect(settings["gateway"]["listen"] == f"0.0.0.0:{r.merged['ports']['http']}", "gateway.listen")
    expect(settings["events"]["backend"] == "rabbitmq" and settings["kv"]["backend"] == "redis", "backends")
    consumers = [c for c in CONSUMERS if c in r.enabled()]
    expect(sorted(settings["events"]["consumers"].split(",")) == sorted(consumers),
           f"events.consumers {settings['events']['consumers']!r}, expected {consumers}")
    hosts = settings["gateway"].get("allowed_hosts", "")
    expect(not hosts or "localhost" in hosts.split(","), "allowed_hosts set without localhost, which the probes send")
    # Every DOCKET__ variable names a setting Docket knows.
    for where, pod in r.pods():
        for c in pod["containers"]:
            for name in env_of(c):
                if not name.startswith("DOCKET__"):
                    continue
                parts = name.lower().split("__")[1:]
                if parts[:2] == ["auth", "tokens"]:
                    expect(len(parts) == 4 and parts[3] in ("token", "role", "staff_id", "acts_for_contacts"),
                           f"{where}: {name}")
                else:
                    expect(len(parts) == 2 and tuple(parts) in known, f"{where}: {name} is no Docket setting")
    # The values a config section may take are Docket's keys too (the schema's list).
    for section, spec in chart.schema["properties"]["config"]["properties"].items():
        for key in spec["properties"]:
            expect((section, key) in known, f"the schema offers config.{section}.{key}, which Docket does not know")
    return f"{sum(len(k) for k in settings.values())} settings"


def check_tokens(r: Render, known: set[tuple[str, str]]) -> str:
    enabled = r.enabled()
    extra = r.merged["secrets"].get("extraTokens", {})
    for d in r.deployments():
        (c,) = d["spec"]["template"]["spec"]["containers"]
        env = env_of(c)
        targets = c["args"][1:]
        for t in targets:
            token = f"DOCKET__{t.upper()}__SERVICE_TOKEN"
            # A service that calls no other has no service_token setting (src/settings.rs).
            if (t, "service_token") not in known:
                expect(token not in env, f"{d['metadata']['name']}: {t} has no service_token setting")
                continue
            if t == "case" and "billing" not in enabled:
                continue
            expect(token in env, f"{d['metadata']['name']}: no {t}.service_token")
        serves_grpc = any(t != "gateway" for t in targets)
        for name in enabled + list(extra):
            prefix = f"DOCKET__AUTH__TOKENS__{name.upper()}"
            if not serves_grpc:
                expect(f"{prefix}__TOKEN" not in env, f"{d['metadata']['name']}: the gateway alone needs no auth.tokens")
                continue
            expect(f"{prefix}__TOKEN" in env, f"{d['metadata']['name']}: no auth.tokens.{name}")
            role = env[f"{prefix}__ROLE"]["value"]
            expect(role == (extra[name]["role"] if name in extra else "service"), f"auth.tokens.{name}.role = {role}")
            acts = env.get(f"{prefix}__ACTS_FOR_CONTACTS", {}).get("value") == "true"
            expect(acts == (name in ("portal", "gateway") or bool(extra.get(name, {}).get("actsForContacts"))),
                   f"{d['metadata']['name']}: auth.tokens.{name}.acts_for_contacts = {acts}")
        attrs = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        for part in ("k8s.namespace.name=$(POD_NAMESPACE)", "k8s.pod.name=$(POD_NAME)",
                     f"service.version={chart.metadata['appVersion']}"):
            expect(part in attrs, f"OTEL_RESOURCE_ATTRIBUTES lacks {part}")
        names = [e["name"] for e in c["env"]]
        expect(names.index("POD_NAMESPACE") < names.index("OTEL_RESOURCE_ATTRIBUTES"), "POD_NAMESPACE must come first")
        expect(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", "POD_NAME from the downward API")
    return f"{len(enabled) + len(extra)} tokens"


def check_scaling(r: Render) -> str:
    deps = {d["metadata"]["name"]: d for d in r.deployments()}
    for hpa in r.kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]["name"]
        expect(target in deps, f"HPA {hpa['metadata']['name']} scales {target}, not rendered")
        expect("replicas" not in deps[target]["spec"], f"{target}: replicas set although an HPA scales it")
    for pdb in r.kind("PodDisruptionBudget"):
        sel = pdb["spec"]["selector"]["matchLabels"]
        expect(sum(labels_match(sel, d["spec"]["template"]["metadata"]["labels"]) for d in deps.values()) == 1,
               f"PDB {pdb['metadata']['name']} does not select exactly one Deployment")
        expect(("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"]), "PDB sets both or neither")
    return f"{len(r.kind('HorizontalPodAutoscaler'))} HPAs, {len(r.kind('PodDisruptionBudget'))} PDBs"


def check_edges(r: Render) -> str:
    """Ingress, NetworkPolicies and the helm test point at what exists."""
    services = {s["metadata"]["name"]: s for s in r.kind("Service")}
    for ing in r.kind("Ingress"):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                expect(svc is not None and any(p["name"] == backend["port"].get("name") for p in svc["spec"]["ports"]),
                       f"Ingress backend {backend} is no Service port")
        for tls in ing["spec"].get("tls", []):
            expect(tls["secretName"] and tls["hosts"], "Ingress TLS entry incomplete")
    components = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] for d in r.deployments()}
    for np in r.kind("NetworkPolicy"):
        name = np["metadata"]["name"]
        sel = np["spec"]["podSelector"]["matchLabels"]
        (dep,) = [d for d in r.deployments() if labels_match(sel, d["spec"]["template"]["metadata"]["labels"])]
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        for rule in np["spec"]["ingress"]:
            ports = {p["port"] for p in rule["ports"]}
            if "grpc" in ports:
                peers = rule["from"]
                own = peers[0]["podSelector"]
                expect(own["matchExpressions"][0]["values"] and set(own["matchExpressions"][0]["values"]) == components,
                       f"{name}: gRPC admits {own}")
            elif "metrics" in ports:
                expect(rule.get("from") and "namespaceSelector" in rule["from"][0], f"{name}: metrics open to all")
            elif "http" in ports:
                expect("gateway" in c["args"], f"{name}: HTTP admitted to a pod without the gateway")
                tests = [o for o in r.kind("Pod") if o["metadata"]["annotations"].get("helm.sh/hook") == "test"]
                if rule.get("from") and tests:
                    expect(any(labels_match(p.get("podSelector", {}).get("matchLabels", {"-": "-"}), tests[0]["metadata"]["labels"])
                               for p in rule["from"]), f"{name}: the helm test pod may not reach the gateway")
            else:
                raise AssertionError(f"{name}: unexpected rule {rule}")
        expect(np["spec"]["policyTypes"] == ["Ingress"], f"{name}: policyTypes")
    if r.merged["networkPolicy"]["enabled"]:
        expect(len(r.kind("NetworkPolicy")) == len(r.deployments()), "one NetworkPolicy per Deployment")
    for pod in r.kind("Pod"):
        ann = pod["metadata"]["annotations"]
        expect(ann.get("helm.sh/hook") == "test", f"Pod {pod['metadata']['name']} is not a test hook")
        url = pod["spec"]["containers"][0]["args"][-1]
        m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)/readyz", url)
        expect(m is not None and m.group(1) in services, f"helm test asks {url}")
        expect(any(p["port"] == int(m.group(2)) and p["name"] == "http" for p in services[m.group(1)]["spec"]["ports"]),
               f"helm test asks {url}, not the gateway's HTTP port")
    if "gateway" in r.enabled() and r.merged["tests"]["enabled"]:
        expect(len(r.kind("Pod")) == 1, "no helm test pod")
    else:
        expect(not r.kind("Pod"), "a helm test pod although tests are off")
    return f"{len(r.kind('Ingress'))} Ingress, {len(r.kind('NetworkPolicy'))} NetworkPolicies"


def promql_metrics(expr: str) -> set[str]:
    names = set()
    for name in re.findall(r"\bdocket_[a-z_]+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        names.add(base if base in HISTOGRAMS else name)
    return names


def balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in re.sub(r'"[^"]*"', '""', expr):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def check_crds(r: Render) -> str:
    """The Prometheus Operator objects, checked by hand (no built-in schema)."""
    n = 0
    for sm in r.kind("ServiceMonitor"):
        expect(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion")
        expect(sm["metadata"].get("name"), "ServiceMonitor name")
        sel = sm["spec"]["selector"]["matchLabels"]
        eps = sm["spec"]["endpoints"]
        expect(isinstance(eps, list) and eps and all(isinstance(e.get("port"), str) for e in eps), "endpoints")
        for e in eps:
            for key in ("interval", "scrapeTimeout"):
                expect(re.fullmatch(r"\d+(ms|s|m|h)", e[key]) is not None, f"endpoint {key} {e[key]}")
            expect(isinstance(e.get("honorLabels"), bool), "honorLabels")
        selected = [s for s in r.kind("Service") if labels_match(sel, s["metadata"]["labels"])]
        expect(len(selected) == len(r.kind("Service")), "the ServiceMonitor does not select every Service")
        expect(all(any(p["name"] == eps[0]["port"] for p in s["spec"]["ports"]) for s in selected), "scraped port missing")
        n += 1
    for pr in r.kind("PrometheusRule"):
        expect(pr["apiVersion"] == "monitoring.coreos.com/v1", "PrometheusRule apiVersion")
        groups = pr["spec"]["groups"]
        expect(isinstance(groups, list) and groups, "groups")
        alerts = set()
        for g in groups:
            expect(isinstance(g.get("name"), str) and isinstance(g.get("rules"), list) and g["rules"], f"group {g}")
            for rule in g["rules"]:
                expect(isinstance(rule.get("expr"), str) and ("alert" in rule) != ("record" in rule), f"rule {rule}")
                expect(balanced(rule["expr"]), f"{rule.get('alert')}: unbalanced expression {rule['expr']}")
                used = promql_metrics(rule["expr"])
                expect(used and used <= METRICS | HISTOGRAMS, f"{rule.get('alert')}: unknown metrics {used - METRICS - HISTOGRAMS}")
                if "for" in rule:
                    expect(re.fullmatch(r"\d+(s|m|h)", rule["for"]) is not None, f"for {rule['for']}")
                for key in ("labels", "annotations"):
                    expect(all(isinstance(v, str) for v in rule.get(key, {}).values()), f"{key} must be strings")
                alerts.add(rule.get("alert"))
        expect(ALERTS <= alerts, f"missing alerts {ALERTS - alerts}")
        thresholds = r.merged["metrics"]["prometheusRule"]
        exprs = {rule["alert"]: rule["expr"] for g in groups for rule in g["rules"] if "alert" in rule}
        expect(f"> {thresholds['outboxBacklogThreshold']}" in exprs["DocketOutboxBacklogHigh"], "backlog threshold")
        expect(f"> {thresholds['slaBreachesPerHour']}" in exprs["DocketSlaBreaches"], "SLA threshold")
        expect(f"> {thresholds['grpcErrorRatio']}" in exprs["DocketGrpcErrorRate"], "gRPC error threshold")
        expect('code=~"Internal|Unknown|Unavailable|DataLoss"' in exprs["DocketGrpcErrorRate"], "gRPC error codes")
        n += 1
    for cm in r.kind("ConfigMap"):
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            continue
        (text,) = cm["data"].values()
        dash = json.loads(text)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        used = set().union(*(promql_metrics(e) for e in exprs))
        expect(used == METRICS | HISTOGRAMS, f"the dashboard shows {sorted(used)}; missing {sorted((METRICS | HISTOGRAMS) - used)}")
        expect(all(balanced(e) for e in exprs), "unbalanced dashboard expression")
        n += 1
    return f"{n} objects"


def validate_k8s(r: Render, versions: list[str]) -> str:
    n = 0
    for obj in r.objects:
        if obj["kind"] in CRD_KINDS:
            continue
        data = {k: v for k, v in obj.items() if k != "__source"}
        for version in versions:
            try:
                got = kubernetes_validate.validate(data, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                path = ".".join(str(p) for p in err.path)
                raise AssertionError(f"{obj['kind']}/{obj['metadata'].get('name')} against {version}: {path}: {err.message}")
            except kv_utils.SchemaNotFoundError as err:
                raise AssertionError(err.message)
            expect(got == kv_utils.major_minor(version), f"validated against {got}, not {version}")
            n += 1
    return f"{n} validations"


# ---------------------------------------------------------------- schema table

BAD_VALUES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("replicas: \"two\"", {"components": {"case": {"replicas": "two"}}}, ["/components/case/replicas"]),
    ("negative replicas", {"components": {"gateway": {"replicas": -1}}}, ["/components/gateway/replicas"]),
    ("monolithic replicas: 1.5", {"monolithic": {"replicas": 1.5}}, ["/monolithic/replicas"]),
    ("layout: mesh", {"layout": "mesh"}, ["/layout"]),
    ("unknown component", {"components": {"search": {"enabled": True}}}, ["/components", "search"]),
    ("unknown top-level key", {"replicaCount": 3}, ["replicaCount"]),
    ("empty Secret name for the database URL", {"secrets": {"databaseUrl": {"existingSecret": ""}}},
     ["/secrets/databaseUrl/existingSecret"]),
    ("no Secret name for the database URL", {"secrets": {"databaseUrl": {"existingSecret": None}}},
     ["/secrets/databaseUrl", "existingSecret"]),
    ("no Secret for a service token", {"components": {"portal": {"serviceToken": None}}},
     ["/components/portal", "serviceToken"]),
    ("metrics.port: \"x\"", {"metrics": {"port": "x"}}, ["/metrics/port"]),
    ("ports.grpc out of range", {"ports": {"grpc": 70000}}, ["/ports/grpc"]),
    ("ingress.tls an object", {"ingress": {"tls": {"secretName": "docket-tls"}}}, ["/ingress/tls"]),
    ("ingress.tls entry without hosts", {"ingress": {"tls": [{"secretName": "docket-tls"}]}}, ["/ingress/tls/0", "hosts"]),
    ("ingress.tls hosts a string", {"ingress": {"tls": [{"secretName": "t", "hosts": "a.example"}]}}, ["/ingress/tls/0/hosts"]),
    ("publicBaseUrl with a path", {"publicBaseUrl": "https://support.example.com/"}, ["/publicBaseUrl"]),
    ("a service URL typed by hand", {"config": {"gateway": {"case_service_url": "http://x:50051"}}},
     ["/config/gateway", "case_service_url"]),
    ("a secret in the config", {"config": {"database": {"url": "postgres://u:p@h/d"}}}, ["/config/database", "url"]),
    ("queue_type: mirrored", {"config": {"events": {"queue_type": "mirrored"}}}, ["/config/events/queue_type"]),
    ("a component address with a scheme", {"components": {"case": {"address": "http://case:50051"}}},
     ["/components/case/address"]),
    ("smtp_tls: ssl", {"config": {"notification": {"smtp_tls": "ssl"}}}, ["/config/notification/smtp_tls"]),
    ("max_connections: \"ten\"", {"config": {"database": {"max_connections": "ten"}}}, ["/config/database/max_connections"]),
    ("a typo in a settings key", {"config": {"portal": {"sesion_ttl_secs": 60}}}, ["/config/portal", "sesion_ttl_secs"]),
    ("extra token with a bad role", {"secrets": {"extraTokens": {"erp": {"existingSecret": "s", "key": "k", "role": "king"}}}},
     ["/secrets/extraTokens/erp/role"]),
    ("extra token without a Secret", {"secrets": {"extraTokens": {"erp": {"key": "k", "role": "service"}}}},
     ["/secrets/extraTokens/erp", "existingSecret"]),
    ("non-service token acting for contacts",
     {"secrets": {"extraTokens": {"erp": {"existingSecret": "s", "key": "k", "role": "agent", "actsForContacts": True}}}},
     ["/secrets/extraTokens/erp/role"]),
    ("extra token named like a component",
     {"secrets": {"extraTokens": {"case": {"existingSecret": "s", "key": "k", "role": "service"}}}},
     ["/secrets/extraTokens/case"]),
    ("extra token with a bad name", {"secrets": {"extraTokens": {"ERP-1": {"existingSecret": "s", "key": "k", "role": "service"}}}},
     ["/secrets/extraTokens", "ERP-1"]),
    ("autoscaling maxReplicas: \"many\"", {"components": {"case": {"autoscaling": {"maxReplicas": "many"}}}},
     ["/components/case/autoscaling/maxReplicas"]),
    ("image.pullPolicy: Sometimes", {"image": {"pullPolicy": "Sometimes"}}, ["/image/pullPolicy"]),
    ("grpcErrorRatio above 1", {"metrics": {"prometheusRule": {"grpcErrorRatio": 5}}}, ["/metrics/prometheusRule/grpcErrorRatio"]),
    # Caught by the templates rather than the schema, still naming the key.
    ("gateway without billing", {"components": {"billing": {"enabled": False}}}, ["components.billing.enabled"]),
    ("Ingress without gateway", {"ingress": {"enabled": True}, "components": {"gateway": {"enabled": False}}},
     ["ingress.enabled"]),
]


class QuietStderr:
    """Holds back what Helm's Go code writes to stderr (coalescing warnings about the bad values)."""

    def __enter__(self) -> "QuietStderr":
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.sink = tempfile.TemporaryFile()
        os.dup2(self.sink.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.sink.seek(0)
        self.text = self.sink.read().decode(errors="replace")
        self.sink.close()


def check_bad(values: dict[str, Any], needles: list[str]) -> str:
    try:
        with QuietStderr():
            render(values)
    except helm.HelmError as err:
        text = str(err)
        for needle in needles:
            expect(needle in text, f"the error does not name {needle!r}: {text.strip()}")
        return text.strip().splitlines()[-1]
    raise AssertionError(f"rendered without error: {values}")


# ---------------------------------------------------------------- values.yaml comments


def check_values_commented() -> str:
    lines = (CHART / "values.yaml").read_text().splitlines()
    keys = 0
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(- )?([A-Za-z_][\w./-]*):(\s|$)", line)
        if not m or m.group(2):
            continue
        keys += 1
        above = lines[i - 1].strip() if i else ""
        inline = "#" in line.split(":", 1)[1]
        # A key inside a one-line example map in a comment block is fine; so is a key
        # whose parent says what its children are (matchLabels, labels, requests...).
        parent_documents_children = False
        indent = len(m.group(1))
        for j in range(i - 1, -1, -1):
            prev = lines[j]
            if prev.strip() and not prev.strip().startswith("#") and len(prev) - len(prev.lstrip()) < indent:
                parent_documents_children = re.search(r"(matchLabels|labels|annotations|requests|limits|rollingUpdate):\s*$", prev) is not None
                break
        expect(above.startswith("#") or inline or parent_documents_children,
               f"values.yaml line {i + 1}: key {m.group(3)!r} has no comment")
    return f"{keys} keys"


def check_schema_types_defaults() -> str:
    """Every value in values.yaml is reached by a schema that types it."""
    schema = chart.schema
    count = 0

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].split("/")[-1]]
        return node

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        nonlocal count
        node = resolve(node)
        expect(any(k in node for k in ("type", "enum", "const", "anyOf")), f"{path or '/'} is not typed by the schema")
        count += 1
        if isinstance(value, dict) and ("properties" in node or "patternProperties" in node):
            for key, child in value.items():
                if key in node.get("properties", {}):
                    walk(child, node["properties"][key], f"{path}/{key}")
                elif isinstance(node.get("additionalProperties"), dict):
                    walk(child, node["additionalProperties"], f"{path}/{key}")
                else:
                    raise AssertionError(f"{path}/{key} is in values.yaml but not in the schema")

    walk(chart.values, schema, "")
    return f"{count} values"


# ---------------------------------------------------------------- main


def main() -> int:
    started = time.monotonic()
    versions = ["1.30.0", kv_utils.latest_version()]
    print(f"helm-python-sdk {helm.__version__} (Helm {helm.helm_sdk_version()}), "
          f"kubernetes-validate {kubernetes_validate.__version__}, Kubernetes {', '.join(versions)}")
    known = docket_setting_keys()
    targets, consumers = docket_targets_and_consumers()
    COMPONENTS.extend(chart.values["components"])
    CONSUMERS.extend(consumers)

    def components_are_targets() -> str:
        expect(set(COMPONENTS) <= targets, f"components {sorted(set(COMPONENTS) - targets)} are no `docket serve` target")
        helpers = (CHART / "templates" / "_helpers.tpl").read_text()
        listed = re.search(r'define "docket.eventConsumers" -\}\}\n(.*?)\n', helpers).group(1).split()
        expect(sorted(listed) == sorted(consumers), f"docket.eventConsumers {listed} != CONSUMERS of src/app.rs {consumers}")
        schema_names = set(chart.schema["properties"]["components"]["properties"])
        expect(schema_names == set(COMPONENTS), f"schema components {sorted(schema_names)} != values {COMPONENTS}")
        return ", ".join(COMPONENTS)
    check("components are `docket serve` targets; event consumers match src/app.rs", components_are_targets)

    scenarios: list[tuple[str, dict[str, Any]]] = [("default values", {})]
    scenarios += [(f"values/{p.name}", values_file(p.name)) for p in sorted(VALUES_DIR.glob("*.yaml"))]
    scenarios += [("layout=monolithic (as a value)", {"layout": "monolithic"}),
                  ("layout=microservices (as a value)", {"layout": "microservices"})]

    for label, values in scenarios:
        def lint(values: dict[str, Any] = values) -> str:
            report = helm.lint(CHART, values, strict=True, kube_version="v1.30.0")
            bad = [m for m in report["messages"] if m["severity"] >= 2]
            expect(not bad and not report["errors"], f"{bad or report['errors']}")
            return f"{len(report['messages'])} info"
        check(f"[{label}] helm lint --strict", lint)

    renders: list[Render] = []
    for label, values in scenarios:
        def do_render(label: str = label, values: dict[str, Any] = values) -> str:
            r = Render(label, values, render(values))
            renders.append(r)
            return f"{len(r.objects)} objects"
        check(f"[{label}] renders", do_render)

    for r in renders:
        p = f"[{r.label}]"
        check(f"{p} kubernetes-validate (strict) against {', '.join(versions)}", lambda r=r: validate_k8s(r, versions))
        check(f"{p} Prometheus Operator objects and dashboard are well-formed", lambda r=r: check_crds(r))
        check(f"{p} containers run with the security defaults", lambda r=r: check_security(r))
        check(f"{p} secrets only through secretKeyRef, none in ConfigMaps", lambda r=r: check_secrets(r))
        check(f"{p} Deployments run `serve <their targets>`", lambda r=r: check_args(r))
        check(f"{p} *_service_url reach a Service serving that target", lambda r=r: check_urls(r))
        check(f"{p} gRPC health and /healthz, /readyz probes", lambda r=r: check_probes(r))
        check(f"{p} migration hook Job runs `migrate up` first", lambda r=r: check_migration(r))
        check(f"{p} config checksum on every pod template", lambda r=r: check_checksum(r))
        check(f"{p} Services carry appProtocol and select pods", lambda r=r: check_services(r))
        check(f"{p} settings are Docket's own (src/settings.rs)", lambda r=r: check_settings(r, known))
        check(f"{p} tokens: own service_token, auth.tokens, OTEL attributes", lambda r=r: check_tokens(r, known))
        check(f"{p} HPAs and PDBs match their Deployments", lambda r=r: check_scaling(r))
        check(f"{p} Ingress, NetworkPolicies and helm test point at what exists", lambda r=r: check_edges(r))

    by_label = {r.label: r for r in renders}

    def layouts() -> str:
        mono = by_label["values/monolithic.yaml"]
        micro = by_label["values/microservices.yaml"]
        expect(len(mono.deployments()) == 1, f"monolithic: {len(mono.deployments())} Deployments")
        expect(len(micro.deployments()) == 6, f"microservices: {len(micro.deployments())} Deployments")
        expect(len(by_label["default values"].deployments()) == 6, "the default layout is microservices")
        queue_type = by_label["default values"].settings()["events"]["queue_type"]
        expect(queue_type == "quorum", f"the chart's default events.queue_type is {queue_type}, not quorum")
        return "1 and 6"
    check("monolithic has exactly one Deployment, microservices six", layouts)

    def everything_on() -> str:
        r = by_label["values/everything.yaml"]
        kinds = {o["kind"] for o in r.objects}
        want = {"Ingress", "NetworkPolicy", "ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler",
                "PodDisruptionBudget", "Job", "Pod", "ServiceAccount", "ConfigMap", "Service", "Deployment"}
        expect(want <= kinds, f"missing kinds {want - kinds}")
        expect(r.settings()["gateway"]["public_base_url"] == "https://support.example.com", "https public address")
        expect(any(cm["metadata"].get("labels", {}).get("grafana_dashboard") == "1" for cm in r.kind("ConfigMap")),
               "dashboard ConfigMap")
        return ", ".join(sorted(kinds))
    check("everything.yaml switches every optional object on", everything_on)

    def checksum_follows_config() -> str:
        a = Render("a", {}, render({}))
        b = Render("b", {}, render({"config": {"portal": {"session_ttl_secs": 3600}}}))
        ca = a.deployments()[0]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        cb = b.deployments()[0]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        expect(ca != cb, "a settings change leaves the checksum as it was: pods would not roll")
        return "changes"
    check("a settings change changes the pods' checksum", checksum_follows_config)

    def release_named_docket() -> str:
        r = Render("docket", {}, render({}, name="docket"))
        check_urls(r)
        return ", ".join(sorted(d["metadata"]["name"] for d in r.deployments()))
    check("a release named `docket` keeps its names and URLs consistent", release_named_docket)

    def toml_round_trip() -> str:
        tricky = 'Müller & Söhne "GmbH" \\ <b>\ttab # not a comment'
        values = {"config": {"billing": {"business_name": tricky, "default_hourly_rate_minor": 12_000_000},
                             "gateway": {"cookie_secure": False, "body_limit_bytes": 10_485_760}}}
        settings = Render("toml", values, render(values)).settings()
        expect(settings["billing"]["business_name"] == tricky, f"business_name came back as {settings['billing']['business_name']!r}")
        expect(settings["billing"]["default_hourly_rate_minor"] == 12_000_000, "a large integer lost its form")
        expect(settings["gateway"]["body_limit_bytes"] == 10_485_760, "body_limit_bytes")
        expect(settings["gateway"]["cookie_secure"] is False, "a boolean became something else")
        return "strings, integers, booleans"
    check("docket.toml keeps strings, large integers and booleans intact", toml_round_trip)

    check("values.yaml: every key is commented", check_values_commented)
    check("values.schema.json types every value of values.yaml", check_schema_types_defaults)

    for label, values, needles in BAD_VALUES:
        check(f"schema refuses {label}", lambda values=values, needles=needles: check_bad(values, needles))

    passed = sum(ok for ok, _ in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed in {time.monotonic() - started:.1f} s")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    chart = helm.Chart.load(CHART)
    sys.exit(main())
