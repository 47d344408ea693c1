"""The ledger's grep must find a secret wherever DuckDB stores it (compressed strings included)."""

import duckdb

from faults.ledger import TEST_PG_PASSWORD, Fault, Ledger, scan_file


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
    assert ledger.holds() and ledger.line() == "faults: injected=2 survived=2 rows_lost=0 partial_tables_seen=0 secrets_leaked=0"
    ledger.faults.append(Fault("b", injected=["z"], survived=0))
    assert not ledger.holds() and "b: 1 fault(s) not survived (z)" in ledger.problems()
    assert not Ledger([Fault("c", injected=["x"], survived=1, rows_lost=1)]).holds()
