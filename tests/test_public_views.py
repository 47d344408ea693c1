"""The public views of the published file: public columns only, small cells suppressed."""

import duckdb
import pytest

from zlv_dwh import public_views

CLASSES = {
    "vacancy_by_territory": {
        "territory_level": "none",
        "territory_code": "none",
        "dwelling_count": "aggregated",
        "vacant_housing_count": "aggregated",
    },
    "vacancy_exit_delays": {
        "departement_code": "none",
        "housing_contacted_count": "aggregated",
        "median_days_first_contact_to_exit": "aggregated",
    },
    "owners_summary": {"owner_key": "pseudonymised", "properties_count": "aggregated"},
    "housing_geo": {"housing_id": "none", "latitude": "none"},
}


@pytest.fixture
def published():
    con = duckdb.connect()
    con.execute(
        "create table vacancy_by_territory as select * from (values "
        "('commune', '67001', 3, 2), ('commune', '67002', 50, 2), ('commune', '67003', 50, 20), ('departement', '67', 103, 2)"
        ") t(territory_level, territory_code, dwelling_count, vacant_housing_count)"
    )
    con.execute(
        "create table vacancy_exit_delays as select * from (values ('67', 3, 12.0), ('69', 40, 30.5)) "
        "t(departement_code, housing_contacted_count, median_days_first_contact_to_exit)"
    )
    con.execute("create table owners_summary as select 'abc' as owner_key, 7 as properties_count")
    con.execute("create table housing_geo as select 1 as housing_id, 48.5 as latitude")
    views = public_views.definitions(CLASSES, ["vacancy_by_territory", "vacancy_exit_delays", "owners_summary", "housing_geo"])
    public_views.create(con, views)
    return con


def test_small_cells_are_suppressed_on_the_finest_level_only(published):
    rows = published.execute(
        "select territory_code, dwelling_count, vacant_housing_count, small_cell_suppressed "
        "from public.vacancy_by_territory order by territory_code"
    ).fetchall()
    assert rows == [
        ("67", 103, 2, False),  # a département: not the finest level, shown as is
        ("67001", None, None, True),  # 3 dwellings: the whole row is suppressed
        ("67002", 50, None, False),  # 2 vacant: that cell alone
        ("67003", 50, 20, False),
    ]
    delays = published.execute("select * from public.vacancy_exit_delays order by 1").fetchall()
    assert delays == [("67", None, None, True), ("69", 40, 30.5, False)]  # a median over 3 housing goes too


def test_pseudonymised_columns_and_dwelling_level_marts_stay_out_of_the_public_schema(published):
    views = {r[0] for r in published.execute("select view_name from duckdb_views() where schema_name = 'public'").fetchall()}
    assert views == {"vacancy_by_territory", "vacancy_exit_delays", "owners_summary"}
    assert [r[0] for r in published.execute("describe public.owners_summary").fetchall()] == ["properties_count"]
    assert published.execute("select count(*) from main.housing_geo").fetchone() == (1,)  # the table stays for the data team


def test_a_view_that_would_leak_a_small_cell_is_refused():
    con = duckdb.connect()
    con.execute("create table vacancy_by_territory as select 'commune' as territory_level, 2 as dwelling_count")
    leaky = public_views.PublicView(
        "vacancy_by_territory",
        "select territory_level, dwelling_count from main.vacancy_by_territory",
        ("territory_level", "dwelling_count"),
        ("dwelling_count",),
        {"where": "territory_level = 'commune'", "base_count": "dwelling_count"},
    )
    with pytest.raises(public_views.PublicViewError, match="vacancy_by_territory: 1 row"):
        public_views.create(con, [leaky])
