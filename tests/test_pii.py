import duckdb
import pytest

from zlv_dwh import pii


@pytest.mark.parametrize("key", [b"k", b"zlv-test-key", b"x" * 64, b"long-key-" * 20])
@pytest.mark.parametrize("value", ["Hélène Lefèvre", "", "a'b\"c", "DUPONT Jean 12/03/1950"])
def test_sql_hmac_equals_python_hmac(key, value):
    con = duckdb.connect()
    pii.install_key(con, key)
    got = con.execute(f"select {pii.hmac_sql('v')} from (select ? as v)", [value]).fetchone()[0]
    assert got == pii.hmac_sha256_hex(key, value)


def test_sql_hmac_keeps_null_and_hashes_non_text():
    con = duckdb.connect()
    pii.install_key(con, b"k")
    null, number = con.execute(f"select {pii.hmac_sql('a')}, {pii.hmac_sql('b')} from (select null as a, 42 as b)").fetchone()
    assert null is None
    assert number == pii.hmac_sha256_hex(b"k", "42")


def test_missing_key_is_refused_with_the_variable_to_set():
    with pytest.raises(pii.MissingPseudonymisationKey, match="ZLV_PSEUDONYMISATION_KEY"):
        pii.require_key(None)


@pytest.mark.parametrize(
    "column", ["full_name", "owner_email", "birth_date", "ff_ddenom_1", "adresse1", "phone", "idpersonne", "ff_jdatnss_2"]
)
def test_policy_recognises_personal_column_names(column):
    assert pii.load_policy().looks_personal(column)


@pytest.mark.parametrize("column", ["geo_code", "housing_count", "status", "campaigns_sent", "vacancy_start_year", "latitude"])
def test_policy_leaves_ordinary_columns_alone(column):
    assert pii.load_policy().looks_personal(column) is None


def test_the_key_never_appears_in_the_sql_text():
    key = b"zlv-test-key-that-must-not-leak"
    sql = pii.hmac_sql("v")
    for form in (key, bytes(b ^ 0x36 for b in key.ljust(64, b"\0")), bytes(b ^ 0x5C for b in key.ljust(64, b"\0"))):
        assert form.hex() not in sql and form.decode("latin-1") not in sql
