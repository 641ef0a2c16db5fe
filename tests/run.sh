#!/usr/bin/env bash
# The one command that passes all of Docket's tests on a fresh machine:
# starts the servers the tests talk to (if they are stopped), then runs
# every test of the workspace and a short benchmark smoke run.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh -- cases   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it started (UTC), to tell where a slow run's time went.
say() { printf '\n== %s (%s)\n' "$*" "$(date -u +%T)"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 1
  done
  echo "$name did not open 127.0.0.1:$port within 60 s" >&2
  exit 1
}

say "servers the tests use"
if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
wait_port PostgreSQL 5432
if ! port_open 6379; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_port Redis 6379
if ! port_open 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
fi
wait_port RabbitMQ 5672
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test"
echo "PostgreSQL, Redis and RabbitMQ are up"
# The SMTP server the notification tests send to.
python3 -c "import aiosmtpd" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
echo "aiosmtpd is installed"
# pdftoppm and pdftotext check the work order PDFs; Liberation Sans stands in
# for Helvetica when poppler renders them.
if ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null || ! fc-list 2>/dev/null | grep -qi liberation; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-liberation >/dev/null
fi
echo "poppler-utils is installed"
# Postfix, the MTA of the email-to-case test (tests/e2e/postfix.rs runs a
# private instance of its own; the system one stays unconfigured).
if ! command -v postfix >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
echo "postfix is installed"
# The property-based checker of the gateway's OpenAPI document.
# Pinned: a new release may generate other cases, and a test run should not
# change with the day it runs on.
schemathesis_version=4.32.5
[ "$(schemathesis --version 2>/dev/null)" = "schemathesis, version $schemathesis_version" ] \
  || python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
echo "schemathesis is installed"
# The Helm chart's offline checks: render and lint with Helm's own library,
# validate against Kubernetes' schemas (tests/chart/check.py).
# pika: the chart-driven run (tests/chart/run.py) removes its queues with it.
python3 -c "import helm_python, kubernetes_validate, pika" 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check helm-python-sdk kubernetes-validate pika
echo "helm-python-sdk, kubernetes-validate and pika are installed"
# Browser tests: Debian's chromium driven by playwright-core (tests/browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)
echo "chromium and playwright-core are installed"

extra=()
if [ "${1:-}" = "--" ]; then shift; extra=("$@"); fi

say "build"
cargo build --workspace --all-targets

say "the Helm chart"
chart_status=0
python3 tests/chart/check.py || chart_status=$?
# Runs the rendered microservices layout as local processes (the built binary).
python3 tests/chart/run.py target/debug/docket || chart_status=$?

say "tests"
log=$(mktemp)
status=0
# Four tests at a time in each test binary, not one per core: the tests
# mostly wait on PostgreSQL, RabbitMQ, Redis, SMTP and Chromium (two cores
# were 70-80 % idle at two), and four took the test phase from 11.5 to 8
# minutes on a 2-core machine. The tests isolate themselves (a schema,
# queue names and key prefix each), so any number may run together.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
if [ ${#extra[@]} -eq 0 ]; then
  # schemathesis (3 minutes of one core's Python on a fast machine, more on
  # a slow one) runs beside the other tests, which mostly wait on servers:
  # the run takes the longer of the two rather than their sum. Its output
  # follows theirs.
  schemathesis=openapi::schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe
  gateway_tests=$(cargo test -p docket --test gateway --no-run 2>&1 | sed -n 's/.*Executable .* (\(.*\))$/\1/p')
  [ -x "$gateway_tests" ] || { echo "tests/run.sh: cannot find the gateway test binary"; exit 1; }
  schemathesis_log=$(mktemp)
  schemathesis_status=0
  "$gateway_tests" --exact "$schemathesis" > "$schemathesis_log" 2>&1 &
  schemathesis_pid=$!
  cargo test --workspace --all-targets --no-fail-fast -- --skip "$schemathesis" 2>&1 | tee "$log" || status=$?
  wait "$schemathesis_pid" || schemathesis_status=$?
  say "schemathesis (run beside the tests above)"
  tee -a "$log" < "$schemathesis_log"
  rm -f "$schemathesis_log"
  [ "$schemathesis_status" -eq 0 ] || status=$schemathesis_status
else
  cargo test --workspace --all-targets --no-fail-fast "${extra[@]}" 2>&1 | tee "$log" || status=$?
fi
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
rm -f "$log"

if [ ${#extra[@]} -eq 0 ]; then
  say "benchmark smoke run (numbers are not checked; see bench/ for real runs)"
  cargo run -q -p docket-bench -- case-create --requests 20 --concurrency 1,2 --seed-cases 1000
  cargo run -q -p docket-bench -- events --cases 30 --concurrency 2
  cargo run -q -p docket-bench -- events --cases 30 --concurrency 2 --drain
  cargo run -q -p docket-bench -- sla-sweep --clocks 2000 --due 50 --rounds 2
  cargo run -q -p docket-bench -- invoices --cases 20 --concurrency 1,2
  cargo run -q -p docket-bench -- web-forms --submissions 20 --concurrency 1,2
  cargo run -q -p docket-bench -- portal-pages --cases 30 --requests 20 --concurrency 1,2
  cargo run -q -p docket-bench -- kb-search --articles 300 --requests 50 --concurrency 1,2
fi

say "summary"
echo "tests: $passed passed, $failed failed"
if [ "$chart_status" -ne 0 ]; then
  echo "the Helm chart's checks failed (see above)"
  [ "$status" -ne 0 ] || status=$chart_status
fi
exit "$status"
