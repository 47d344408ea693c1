"""Real services for the tests: a PostgreSQL server (reused or started) and an S3 HTTP server.

Each test session gets its own database and bucket, so runs never see each other's data."""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from zlv_dwh import dbt_project
from zlv_dwh.demo import generate, run, services
from zlv_dwh.ingest_files import S3Settings
from zlv_dwh.settings import DBT_MANIFEST, REPO_ROOT

# The pinned downloads (the referential source, checked by hash) are shared by every test run.
os.environ.setdefault("ZLV_DOWNLOAD_CACHE", str(REPO_ROOT / ".state" / "cache"))

# Test secrets: distinctive so that a leak into a log or a file is easy to grep for.
TEST_HASH_KEY = b"zlv-test-pseudonymisation-key-5f1c"
TEST_SCALE = 300
TEST_SEED = 7


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="session")
def pg_admin(state_dir):
    service = services.start_postgres(state_dir, say=lambda m: None)
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def s3_service():
    service = services.start_s3(say=lambda m: None)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def demo() -> generate.Demo:
    return generate.build(seed=TEST_SEED, scale=TEST_SCALE)


@contextmanager
def scratch_database(admin_url: str, prefix: str):
    """A fresh database for this test run (dropped afterwards); yields its URL."""
    name = f"{prefix}_{os.getpid()}"
    yield services.recreate_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'drop database if exists "{name}" with (force)')


@contextmanager
def reader_login(admin_url: str, prefix: str, password: str | None = None):
    """A SELECT-only login with read-only sessions on the database of `admin_url` (an admin URL;
    the tables it creates later are readable too), made as the demo makes zlv_dwh_reader; yields
    its URL, then drops it. One name per test run: the role is server-wide."""
    role = f"{prefix}_{os.getpid()}"
    url = services.create_reader(admin_url, role, password) if password else run.create_reader(admin_url, role)
    try:
        yield url
    finally:
        services.drop_reader(admin_url, role)


def keyword_dsn(url: str) -> str:
    """A database URL as a libpq keyword DSN, as the ingestion receives it."""
    return " ".join(f"{k}={v}" for k, v in psycopg.conninfo.conninfo_to_dict(url).items())


@pytest.fixture(scope="session")
def ext(tmp_path_factory) -> Path:
    """One DuckDB extension folder for the session's ingestion tests."""
    return tmp_path_factory.mktemp("ext")


@pytest.fixture(scope="session")
def production_db(pg_admin, demo):
    """URL of a fresh database holding the demo production tables."""
    with scratch_database(pg_admin, "zlv_test") as url:
        generate.write_production(demo, url)
        yield url


@pytest.fixture(scope="session")
def production_reader(production_db) -> str:
    """URL of the SELECT-only login on production_db: every load reads with it (the loads refuse
    the admin's login)."""
    with reader_login(production_db, "zlv_test_reader") as url:
        yield url


@pytest.fixture(scope="session")
def production_dsn(production_reader) -> str:
    return keyword_dsn(production_reader)


@pytest.fixture(scope="session")
def s3(s3_service, demo) -> tuple[S3Settings, str]:
    """S3 settings and a bucket holding the demo LOCOMVAC / FF files."""
    access, secret = services.s3_credentials()
    bucket = f"zlv-test-{os.getpid()}"
    generate.upload_files(demo, s3_service.url, access, secret, bucket)
    return S3Settings(s3_service.url, access, secret), bucket


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> dict:
    """The dbt manifest, built as `make manifest` does (the DAGs render from it)."""
    dbt_project.build(env={"ZLV_WAREHOUSE_PATH": str(tmp_path_factory.mktemp("parse") / "wh.duckdb")})
    return json.loads(DBT_MANIFEST.read_text())


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def airflow_connection(self) -> str:
        """The `zlv_smtp` Airflow connection (as AIRFLOW_CONN_ZLV_SMTP) that sends to this mailbox."""
        extra = {"from_email": "airflow@zlv.example", "disable_ssl": True, "disable_tls": True}
        return json.dumps({"conn_type": "smtp", "host": self.host, "port": self.port, "extra": extra})

    def wait_for(self, predicate, timeout_s: float = 30.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [m for m in self.messages if predicate(m)]
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"no matching email within {timeout_s:.0f}s; received: {[m['subject'] for m in self.messages]}")


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.host, mailbox.port = "127.0.0.1", port
    yield mailbox
    controller.stop()


@pytest.fixture(scope="session")
def pipeline_stack(state_dir, production_db, production_reader, s3_service, smtp_server):
    """Builds a demo.run.Stack on the test services: own state folder and bucket, alerts to the test
    mailbox, production read with the SELECT-only login (as run.generate_sources sets it)."""

    def build(name: str, bucket: str) -> run.Stack:
        access, secret = services.s3_credentials()
        return run.Stack(
            state_dir / name,
            production_db,
            s3_service.url,
            access,
            secret,
            TEST_HASH_KEY.decode(),
            bucket=bucket,
            smtp=(smtp_server.host, smtp_server.port),
            reader_url=production_reader,
        )

    return build


# --- the fault suite's ledger (tests/faults): one line of figures, and the session fails if it is off ---

_FAULT_REPORT = pytest.StashKey[dict]()
_LEDGER = pytest.StashKey["object"]()


def _ledger(config, answers_for_the_registry: bool = False):
    from faults.ledger import Ledger
    from faults.registry import REGISTERED

    if _LEDGER not in config.stash:
        config.stash[_LEDGER] = Ledger(registered=REGISTERED if answers_for_the_registry else ())
    return config.stash[_LEDGER]


def pytest_collection_finish(session):
    """A session that collects the fault suite answers for the whole registry: a registered fault
    it does not inject counts as not survived. ZLV_FAULTS_REQUIRED=0 (make test-fast, a subset on
    purpose) only reports those."""
    if any(item.nodeid.startswith(("tests/faults/", "faults/")) for item in session.items):
        ledger = _ledger(session.config, answers_for_the_registry=True)
        ledger.require_all = os.environ.get("ZLV_FAULTS_REQUIRED", "1") != "0"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_FAULT_REPORT, {})[report.when] = report


@pytest.fixture
def fault(request):
    """Records the faults a test injects; they count as survived only if the test passes."""
    import logging

    from faults.ledger import Fault, LogCapture

    record = Fault(request.node.nodeid)
    capture = LogCapture()
    root = logging.getLogger()
    previous = root.level, logging.getLogger("zlv_dwh").level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    logging.getLogger("zlv_dwh").setLevel(logging.DEBUG)
    try:
        yield record
    finally:
        root.removeHandler(capture)
        root.setLevel(previous[0])
        logging.getLogger("zlv_dwh").setLevel(previous[1])
        call = request.node.stash.get(_FAULT_REPORT, {}).get("call")
        record.survived = len(record.injected) if call is not None and call.passed else 0
        record.scan(capture.buffer.getvalue())
        _ledger(request.config).faults.append(record)


def pytest_sessionfinish(session, exitstatus):
    ledger = session.config.stash.get(_LEDGER, None)
    if ledger is not None and os.environ.get("ZLV_FAULTS_DUMP"):
        Path(os.environ["ZLV_FAULTS_DUMP"]).write_text(
            json.dumps([{"test": f.test, "injected": f.injected} for f in ledger.faults], indent=1)
        )
    if ledger is not None and not ledger.holds() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    ledger = config.stash.get(_LEDGER, None)
    if ledger is None:
        return
    for problem in ledger.problems():
        terminalreporter.write_line(f"FAULT {problem}", red=True)
    terminalreporter.write_line(ledger.line(), bold=True, green=ledger.holds(), red=not ledger.holds())
