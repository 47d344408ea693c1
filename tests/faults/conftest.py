"""Services for the fault suite: a source database read through a SELECT-only login with a password,
and an S3 endpoint (a loopback proxy in front of moto) that can be stopped or made to misbehave."""

from __future__ import annotations

import http.client
import http.server
import threading
from pathlib import Path

import duckdb
import psycopg
import pytest

from conftest import keyword_dsn, reader_login, scratch_database
from faults.ledger import TEST_PG_PASSWORD


@pytest.fixture(scope="session")
def fault_db(pg_admin):
    """URL (admin) of a fresh source database for the fault tests."""
    with scratch_database(pg_admin, "zlv_faults") as url:
        yield url


@pytest.fixture(scope="session")
def loader_dsn(fault_db):
    """The loader's DSN: a SELECT-only login with read-only sessions (the loads refuse any other),
    with a password (to prove it never leaks)."""
    with reader_login(fault_db, "zlv_fault_loader", password=TEST_PG_PASSWORD) as url:
        yield keyword_dsn(url) + " application_name=zlv_fault_loader"


def pg(url: str, *sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        for statement in sql:
            con.execute(statement)


def pg_one(url: str, sql: str):
    with psycopg.connect(url, autocommit=True) as con:
        return con.execute(sql).fetchone()


def wh_one(path: Path, sql: str, params=None):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params).fetchone()


class FaultyS3Proxy:
    """A real HTTP endpoint in front of moto that forwards every request, except for the object
    keys told to fail: answer 500 (`fail_with_500[key] = times`) or send half the body and hang up
    (`cut_body[key] = times`). `stop()` closes the port (the storage is down), `start()` reopens it."""

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.fail_with_500: dict[str, int] = {}
        self.cut_body: dict[str, int] = {}
        self.port = 0
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _take(self, rules: dict[str, int], path: str) -> bool:
        for key, times in rules.items():
            if times and path.split("?")[0].endswith("/" + key):
                rules[key] = times - 1
                return True
        return False

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "GET" and proxy._take(proxy.fail_with_500, self.path):
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.end_headers()
                if self.command == "GET" and response.status == 200 and proxy._take(proxy.cut_body, self.path):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def s3_proxy(s3_service):
    proxy = FaultyS3Proxy(s3_service.url)
    proxy.start()
    yield proxy
    proxy.stop()
