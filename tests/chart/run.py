#!/usr/bin/env python3
"""The chart-driven run: the wiring the chart renders, proved by running it.

    python3 tests/chart/run.py target/debug/docket

Renders charts/docket in the microservices layout with test values, then does
what Kubernetes would do with the objects, on this machine:

1. Provides the Secrets the values name (as an operator creates them before
   `helm install`) and resolves every secretKeyRef, configMapKeyRef and
   fieldRef of each container from them and from the rendered ConfigMap,
   which is written where the container mounts it.
2. Runs the migration hook Job's container to completion first.
3. Starts every Deployment's container as a local process (the image's
   entrypoint is `docket`, so its args are the command line) against the
   local PostgreSQL, RabbitMQ and Redis. A pod has a network namespace of
   its own; here each process listens on a loopback port of its own
   instead, and `components.<name>.address` tells the chart where the
   others reach it, so the `*_service_url` settings stay the chart's.
4. Creates an account, a contact and a case through the gateway's REST API
   with a token from `secrets.extraTokens`, waits for the contact's email at
   an SMTP sink (aiosmtpd), and reads the calls on `/metrics`.

Everything it made (schemas, exchange and queues, Redis keys) is removed at
the end. Exits 0 only if the case's email arrived and the metrics counted it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check  # noqa: E402 - the chart helpers (rendering, lookups) of the offline checks
from check import Render, env_of, expect, helm  # noqa: E402

try:
    import pika
    import pika.exceptions
    from aiosmtpd.controller import Controller
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the machine
    print(f"FAIL  a module is missing ({missing.name}): python3 -m pip install aiosmtpd pika")
    sys.exit(2)

RELEASE = "chartrun"
GRPC_COMPONENTS = ["case", "notification", "billing", "portal", "knowledge"]
PATIENCE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server that keeps what it receives: (recipients, message text)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


class Install:
    """One release's test values, the Secrets they name, and what it leaves behind."""

    def __init__(self, binary: Path, smtp_port: int) -> None:
        self.binary = binary
        self.unique = uuid.uuid4().hex[:12]
        self.ports = {c: free_port() for c in GRPC_COMPONENTS}
        self.metrics_ports = {c: free_port() for c in GRPC_COMPONENTS + ["gateway"]}
        self.http_port = free_port()
        self.public = f"http://127.0.0.1:{self.http_port}"
        self.erp_token = secrets.token_hex(16)
        # What an operator creates before `helm install` (the names are values.yaml's defaults).
        self.secrets = {
            "docket-database": {"url": os.environ.get("DOCKET_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")},
            "docket-rabbitmq": {"url": os.environ.get("DOCKET_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")},
            "docket-redis": {"url": "redis://127.0.0.1:6379/0"},
            "docket-gateway": {"secret-key": secrets.token_hex(32)},
            "docket-service-tokens": {c: secrets.token_hex(16) for c in GRPC_COMPONENTS + ["gateway"]},
            "chartrun-erp": {"token": self.erp_token},
        }
        self.values = {
            "layout": "microservices",
            "publicBaseUrl": self.public,
            "components": {c: {"address": f"127.0.0.1:{self.ports[c]}", "replicas": 1} for c in GRPC_COMPONENTS},
            "secrets": {"extraTokens": {"erp": {"existingSecret": "chartrun-erp", "key": "token", "role": "service"}}},
            "config": {
                "database": {"schema_prefix": f"chart{self.unique}_", "max_connections": 4},
                "events": {"exchange": f"docket.chart.{self.unique}", "queue_prefix": f"chart.{self.unique}.",
                           "queue_type": "quorum"},
                "kv": {"key_prefix": f"chart{self.unique}:"},
                "notification": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_tls": "none",
                                 "message_id_domain": "chart.example"},
                "telemetry": {"log_filter": "warn"},
            },
        }
        self.workdir = Path(tempfile.mkdtemp(prefix="docket-chart-run-"))
        self.processes: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    # -------------------------------------------------------- what the kubelet does

    def resolve_env(self, r: Render, pod: dict[str, Any], container: dict[str, Any], name: str) -> dict[str, str]:
        """The container's environment with its references resolved, its mounts mapped to local folders."""
        mounts = self.mount(r, pod, container, name)
        env: dict[str, str] = {}
        for entry in container.get("env", []):
            if "value" in entry:
                value = str(entry["value"])
            else:
                source = entry["valueFrom"]
                if "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    expect(ref["name"] in self.secrets and ref["key"] in self.secrets[ref["name"]],
                           f"{name}: {entry['name']} asks Secret {ref['name']} for key {ref['key']}, which the operator was not told to create")
                    value = self.secrets[ref["name"]][ref["key"]]
                elif "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    (cm,) = [o for o in r.kind("ConfigMap") if o["metadata"]["name"] == ref["name"]]
                    value = cm["data"][ref["key"]]
                elif "fieldRef" in source:
                    field = source["fieldRef"]["fieldPath"]
                    value = {"metadata.name": f"{name}-local", "metadata.namespace": check.NAMESPACE,
                             "spec.nodeName": socket.gethostname()}[field]
                else:
                    raise AssertionError(f"{name}: {entry['name']} has a reference this run cannot resolve: {source}")
            for mount_path, local in sorted(mounts.items(), key=lambda m: -len(m[0])):
                if value == mount_path or value.startswith(mount_path + "/"):
                    value = str(local) + value[len(mount_path):]
                    break
            env[entry["name"]] = value
        return env

    def mount(self, r: Render, pod: dict[str, Any], container: dict[str, Any], name: str) -> dict[str, Path]:
        """Writes each mounted ConfigMap's files to a folder; an emptyDir is an empty folder."""
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts: dict[str, Path] = {}
        for m in container.get("volumeMounts", []):
            volume = volumes[m["name"]]
            local = self.workdir / name / m["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                (cm,) = [o for o in r.kind("ConfigMap") if o["metadata"]["name"] == volume["configMap"]["name"]]
                for key, text in cm["data"].items():
                    (local / key).write_text(text)
            else:
                expect("emptyDir" in volume, f"{name}: volume {m['name']} is neither a ConfigMap nor an emptyDir")
            mounts[m["mountPath"]] = local
        return mounts

    def command(self, container: dict[str, Any]) -> list[str]:
        # The image's entrypoint is `docket` (Dockerfile); a container that
        # sets `command` would replace it.
        expect("command" not in container, "a container overrides the image's entrypoint")
        return [str(self.binary), *container.get("args", [])]

    def base_env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return keep

    def run_job(self, r: Render) -> None:
        (job,) = r.kind("Job")
        hooks = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
        expect("pre-install" in hooks, f"the migration Job is no pre-install hook ({hooks!r})")
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {**self.base_env(), **self.resolve_env(r, pod, container, "migrate")}
        done = subprocess.run(self.command(container), env=env, capture_output=True, timeout=180)
        expect(done.returncode == 0, f"the migration Job failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")

    def start(self, r: Render, deployment: dict[str, Any]) -> None:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        args = container.get("args", [])
        expect(args[:1] == ["serve"] and len(args) == 2, f"{name}: args {args}")
        target = args[1]
        env = {**self.base_env(), **self.resolve_env(r, pod, container, name)}
        # The network namespace of a pod, on one machine: the chart's ports
        # (container ports, and the listen addresses it wrote) become this
        # process's own loopback ports.
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        settings = r.settings()
        expect(settings["telemetry"]["metrics_listen"] == f"0.0.0.0:{ports['metrics']}", "metrics_listen vs the metrics port")
        env["DOCKET__TELEMETRY__METRICS_LISTEN"] = f"127.0.0.1:{self.metrics_ports[target]}"
        if target == "gateway":
            expect(settings["gateway"]["listen"] == f"0.0.0.0:{ports['http']}", "gateway.listen vs the http port")
            env["DOCKET__GATEWAY__LISTEN"] = f"127.0.0.1:{self.http_port}"
        else:
            expect(settings["grpc"]["listen"] == f"0.0.0.0:{ports['grpc']}", "grpc.listen vs the grpc port")
            env["DOCKET__GRPC__LISTEN"] = f"127.0.0.1:{self.ports[target]}"
        log = self.workdir / f"{name}.log"
        process = subprocess.Popen(self.command(container), env=env, stdout=subprocess.DEVNULL,
                                   stderr=log.open("wb"), start_new_session=True)
        self.processes[target] = (process, log)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + PATIENCE
        for target, (process, log) in self.processes.items():
            port = self.http_port if target == "gateway" else self.ports[target]
            while True:
                expect(process.poll() is None, f"{target} exited ({process.returncode}):\n{tail(log)}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    expect(time.monotonic() < deadline, f"{target} did not listen on {port}:\n{tail(log)}")
                    time.sleep(0.2)
        while True:
            status, body = self.http("GET", "/readyz")
            if status == 200:
                return
            expect(time.monotonic() < deadline, f"the gateway's /readyz: {status} {body}\n{tail(self.processes['gateway'][1])}")
            time.sleep(0.3)

    # -------------------------------------------------------- what a user does

    def http(self, method: str, path: str, body: Any = None, base: str | None = None) -> tuple[int, str]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request((base or self.public) + path, data=data, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if path.startswith("/api/"):
            request.add_header("Authorization", f"Bearer {self.erp_token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError as err:
            return 0, str(err)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, text = self.http("POST", path, body)
        expect(status == 201, f"POST {path}: {status} {text}")
        return json.loads(text)

    def metrics(self, target: str) -> str:
        status, text = self.http("GET", "/metrics", base=f"http://127.0.0.1:{self.metrics_ports[target]}")
        expect(status == 200, f"{target} /metrics: {status} {text[:200]}")
        return text

    # -------------------------------------------------------- clean-up

    def stop(self) -> None:
        for process, _ in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def clean(self) -> None:
        schemas = ", ".join(f'"chart{self.unique}_{s}"' for s in GRPC_COMPONENTS)
        subprocess.run(["psql", self.secrets["docket-database"]["url"], "-qc", f"DROP SCHEMA IF EXISTS {schemas} CASCADE"],
                       capture_output=True)
        connection = pika.BlockingConnection(pika.URLParameters(self.secrets["docket-rabbitmq"]["url"]))
        for consumer in GRPC_COMPONENTS:
            for suffix in ("", ".retry", ".dead"):
                channel = connection.channel()
                try:
                    channel.queue_delete(f"chart.{self.unique}.{consumer}{suffix}")
                except pika.exceptions.ChannelClosedByBroker:
                    pass  # a service that consumes nothing has no queue
        connection.channel().exchange_delete(f"docket.chart.{self.unique}")
        connection.close()
        keys = subprocess.run(["redis-cli", "--scan", "--pattern", f"chart{self.unique}:*"], capture_output=True, text=True)
        for key in keys.stdout.split():
            subprocess.run(["redis-cli", "del", key], capture_output=True)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def metric(text: str, name: str, *labels: str) -> float:
    """The sum of a metric's samples whose labels include all of `labels`."""
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and all(label in line for label in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_file():
        print("usage: python3 tests/chart/run.py <path to the docket binary, e.g. target/debug/docket>")
        return 2
    started = time.monotonic()
    check.chart = helm.Chart.load(check.CHART)
    check.COMPONENTS.extend(check.chart.values["components"])
    sink = Sink()
    sink.controller.start()
    install = Install(Path(sys.argv[1]).resolve(), sink.port)

    def steps() -> str:
        r = Render("chart run", install.values, check.render(install.values, name=RELEASE))
        expect(r.settings()["events"]["queue_type"] == "quorum", "the run is meant for quorum queues")
        install.run_job(r)
        deployments = r.deployments()
        expect(sorted(d["spec"]["template"]["spec"]["containers"][0]["args"][1] for d in deployments)
               == sorted(GRPC_COMPONENTS + ["gateway"]), "one Deployment per component")
        for deployment in deployments:
            install.start(r, deployment)
        install.wait_ready()

        account = install.create("/api/v1/accounts", {"name": "Acme Chart Run"})
        email = f"petra.{install.unique}@acme.example"
        contact = install.create("/api/v1/contacts", {"account_id": account["id"], "name": "Petra Chart", "email": email})
        case = install.create("/api/v1/cases", {
            "subject": "Printer jams after the chart install", "type_id": "technical_issue", "priority": "high",
            "account_id": account["id"], "contacts": [{"contact_id": contact["id"], "primary": True}],
        })
        deadline = time.monotonic() + PATIENCE
        while not any(email in to for to, _ in sink.messages):
            expect(time.monotonic() < deadline,
                   f"no email to {email} within {PATIENCE:.0f} s; the notification service said:\n"
                   f"{tail(install.processes['notification'][1])}")
            time.sleep(0.2)
        (message,) = [text for to, text in sink.messages if email in to]
        expect(case["case_number"] in message, f"the email does not name {case['case_number']}:\n{message[:600]}")

        created = metric(install.metrics("case"), "docket_grpc_requests_total", 'CaseService/CreateCase"', 'code="OK"')
        expect(created >= 1, f"the case service counted {created} CreateCase calls")
        posted = metric(install.metrics("gateway"), "docket_http_requests_total", 'method="POST"',
                        'route="/api/v1/cases"', 'status="201"')
        expect(posted >= 1, f"the gateway counted {posted} POST /api/v1/cases")
        # The knowledge service is up on the schema the migration Job made.
        pools = metric(install.metrics("knowledge"), "docket_db_pool_connections", 'service="knowledge"')
        expect(pools >= 1, f"the knowledge service has {pools} database connections")
        sent = metric(install.metrics("notification"), "docket_emails_sent_total")
        expect(sent >= 1, f"the notification service counted {sent} emails sent")
        return f"{case['case_number']} emailed to {email}; CreateCase OK x{created:.0f}, POST 201 x{posted:.0f}, emails sent {sent:.0f}"

    name = "the microservices layout runs as rendered: a case through the gateway is emailed and counted"
    check.VERBOSE = True
    try:
        check.check(name, steps)
    finally:
        install.stop()
        sink.controller.stop()
        install.clean()
    failed = [n for ok, n in check.results if not ok]
    if failed:
        print(f"chart-driven run: failed in {time.monotonic() - started:.1f} s (logs in {install.workdir})")
    else:
        shutil.rmtree(install.workdir, ignore_errors=True)
        print(f"chart-driven run: passed in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
