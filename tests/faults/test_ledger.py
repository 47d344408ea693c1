"""The ledger's grep must find a secret wherever DuckDB stores it (compressed strings included)."""

import duckdb

from faults.ledger import TEST_PG_PASSWORD, Fault, Ledger, scan_file
from faults.registry import REGISTERED, Registered


def test_a_secret_compressed_inside_a_duckdb_file_is_found(tmp_path):
    db = tmp_path / "leaky.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema ops")
        con.execute(
            "create table ops.load_log as select 'error: password=' || ? || ' at ' || range as error from range(50000)",
            [TEST_PG_PASSWORD],
        )
    assert any("ops.load_log.error" in leak for leak in scan_file(db))


def test_the_invariant_holds_only_when_every_fault_survived_and_nothing_was_lost():
    ledger = Ledger([Fault("a", injected=["x", "y"], survived=2)])
    assert (
        ledger.holds()
        and ledger.line() == "faults: injected=2 survived=2 not_run=0 rows_lost=0 partial_tables_seen=0 secrets_leaked=0"
    )
    ledger.faults.append(Fault("b", injected=["z"], survived=0))
    assert not ledger.holds() and "b: 1 fault(s) not survived (z)" in ledger.problems()
    assert not Ledger([Fault("c", injected=["x"], survived=1, rows_lost=1)]).holds()


def test_a_registered_fault_that_did_not_run_counts_as_not_survived():
    registry = (Registered("x", "t::a", "holds"), Registered("y", "t::b", "holds"))
    ran_one = Ledger([Fault("t::a", injected=["x"], survived=1)], registered=registry)
    assert not ran_one.holds()
    assert ran_one.line() == "faults: injected=2 survived=1 not_run=1 rows_lost=0 partial_tables_seen=0 secrets_leaked=0"
    assert "t::b: registered fault not run (y)" in ran_one.problems()
    subset = Ledger([Fault("t::a", injected=["x"], survived=1)], registered=registry, require_all=False)
    assert subset.holds() and any("subset run: reported only" in p for p in subset.problems())
    stray = Ledger(
        [Fault("t::a", injected=["x", "z"], survived=2), Fault("t::b", injected=["y"], survived=1)], registered=registry
    )
    assert not stray.holds() and "fault injected but not in faults/registry.py: z" in stray.problems()


def test_the_registry_names_each_fault_once_with_what_must_hold():
    names = [r.name for r in REGISTERED]
    assert len(names) == len(set(names)) >= 40
    assert all(r.holds and "::test_" in r.test for r in REGISTERED)
