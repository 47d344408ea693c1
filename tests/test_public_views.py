"""The public views of the published file: public columns only, no per-person timestamp, small
cells suppressed and the other counts rounded, so that no subtraction a reader can make gives a
suppressed value back."""

import itertools
import random

import duckdb
import pytest

from zlv_dwh import public_views

THRESHOLD, BASE = 5, 5
CLASSES = {
    "vacancy_by_territory": {
        "territory_level": "none",
        "territory_code": "none",
        "parent_code": "none",
        "dwelling_count": "aggregated",
        "vacant_housing_count": "aggregated",
    },
    "vacancy_exit_delays": {
        "departement_code": "none",
        "housing_contacted_count": "aggregated",
        "median_days_first_contact_to_exit": "aggregated",
    },
    "establishment_activity": {
        "establishment_id": "none",
        "users_count": "aggregated",
        "first_user_activated_at": "none",
        "days_to_first_campaign": "aggregated",
    },
    "owners_summary": {"owner_key": "pseudonymised"},
    "housing_geo": {"housing_id": "none", "latitude": "none"},
}


def _publish(con, tables):
    views = public_views.definitions(CLASSES, tables)
    public_views.create(con, views)
    return views


@pytest.fixture
def published():
    con = duckdb.connect()
    con.execute(
        "create table vacancy_by_territory as select * from (values "
        "('commune', '67001', '67', 3, 2), ('commune', '67002', '67', 52, 2), ('commune', '67003', '67', 48, 0), "
        "('commune', '67004', '67', 57, 23), ('departement', '67', null, 160, 27)"
        ") t(territory_level, territory_code, parent_code, dwelling_count, vacant_housing_count)"
    )
    con.execute(
        "create table vacancy_exit_delays as select * from (values ('67', 3, 12.0), ('69', 40, 30.5)) "
        "t(departement_code, housing_contacted_count, median_days_first_contact_to_exit)"
    )
    con.execute(
        "create table establishment_activity as select * from (values "
        "('e1', 1, timestamptz '2025-01-02 10:11:12+00', 30), ('e2', 12, timestamptz '2024-05-06 07:08:09+00', 45)"
        ") t(establishment_id, users_count, first_user_activated_at, days_to_first_campaign)"
    )
    con.execute("create table owners_summary as select 'abc' as owner_key")
    con.execute("create table housing_geo as select 1 as housing_id, 48.5 as latitude")
    _publish(con, ["vacancy_by_territory", "vacancy_exit_delays", "establishment_activity", "owners_summary", "housing_geo"])
    return con


def test_small_cells_are_suppressed_and_other_counts_rounded_on_every_level(published):
    rows = published.execute(
        "select territory_code, dwelling_count, vacant_housing_count, small_cell_suppressed "
        "from public.vacancy_by_territory order by territory_code"
    ).fetchall()
    assert rows == [
        ("67", 160, 25, False),  # the département too: 27 is shown as 25
        ("67001", None, None, True),  # 3 dwellings: the whole row is suppressed
        ("67002", 50, None, False),  # 2 vacant: that cell alone
        ("67003", 50, 0, False),  # nobody is shown as 0
        ("67004", 55, 25, False),
    ]
    delays = published.execute("select * from public.vacancy_exit_delays order by 1").fetchall()
    assert delays == [("67", None, None, True), ("69", 40, 30.5, False)]  # a median over 3 housing goes too


def test_a_one_user_establishment_shows_neither_its_count_nor_that_persons_dates(published):
    assert [r[0] for r in published.execute("describe public.establishment_activity").fetchall()] == [
        "establishment_id",
        "users_count",
        "days_to_first_campaign",
        "small_cell_suppressed",
    ]
    assert published.execute("select * from public.establishment_activity order by 1").fetchall() == [
        ("e1", None, None, True),
        ("e2", 10, 45, False),
    ]


def test_pseudonymised_columns_and_dwelling_level_marts_stay_out_of_the_public_schema(published):
    views = {r[0] for r in published.execute("select view_name from duckdb_views() where schema_name = 'public'").fetchall()}
    assert views == {"vacancy_by_territory", "vacancy_exit_delays", "establishment_activity"}  # owners_summary: nothing public
    assert published.execute("select count(*) from main.housing_geo").fetchone() == (1,)  # the table stays for the data team


def test_a_mart_without_a_small_cell_rule_is_not_published_in_public():
    con = duckdb.connect()
    con.execute("create table new_mart as select 'x' as code, 3 as people_count")
    classes = {"new_mart": {"code": "none", "people_count": "aggregated"}}
    with pytest.raises(public_views.PublicViewError, match="new_mart: aggregated column.*no small-cell rule"):
        public_views.definitions(classes, ["new_mart"])


def test_a_view_that_would_leak_a_small_or_unrounded_count_or_a_timestamp_is_refused():
    con = duckdb.connect()
    con.execute("create table vacancy_by_territory as select 'commune' as territory_level, 2 as dwelling_count, 7 as other_count")
    rule = {"base_count": "dwelling_count"}
    for sql, message in (
        ("select dwelling_count from main.vacancy_by_territory", "1 row"),
        ("select 10 as dwelling_count, other_count from main.vacancy_by_territory", "not rounded"),
        ("select now() as seen, 10 as dwelling_count", "timestamp column"),
    ):
        leaky = public_views.PublicView("vacancy_by_territory", sql, (), ("dwelling_count", "other_count"), rule)
        if "other_count" not in sql:
            leaky = public_views.PublicView("vacancy_by_territory", sql, (), ("dwelling_count",), rule)
        with pytest.raises(public_views.PublicViewError, match=message):
            public_views.create(con, [leaky])


def _candidates(parent: tuple[int, int], others: list[tuple[int, int]]) -> set[int]:
    """Values a suppressed child (true value 1..threshold-1) can take given its parent's shown
    interval and its siblings' (shown or suppressed) intervals: parent minus siblings."""
    low = parent[0] - sum(hi for _, hi in others)
    high = parent[1] - sum(lo for lo, _ in others)
    return {v for v in range(1, THRESHOLD) if low <= v <= high}


def _interval(shown: int | None) -> tuple[int, int]:
    """What a reader knows of a true count from its shown value."""
    if shown is None:
        return (0, THRESHOLD - 1)
    if shown == 0:
        return (0, 0)
    return (max(THRESHOLD, shown - BASE // 2), shown + BASE // 2)


def test_no_parent_minus_visible_children_gives_back_a_suppressed_count():
    """Random hierarchies (commune -> EPCI -> département), every count column, through the real
    views: for each suppressed child, the subtraction leaves at least two possible values."""
    rng = random.Random(7)
    con = duckdb.connect()
    rows = []
    for d in range(30):
        communes = [rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 40, 300]) for _ in range(rng.randint(1, 6))]
        vacant = [rng.randint(0, c) for c in communes]
        for i, (c, v) in enumerate(zip(communes, vacant, strict=True)):
            rows.append(("commune", f"{d:02d}{i:03d}", f"{d:02d}", c, v))
        rows.append(("departement", f"{d:02d}", None, sum(communes), sum(vacant)))
    con.execute(
        "create table vacancy_by_territory (territory_level varchar, territory_code varchar, parent_code varchar, dwelling_count int, vacant_housing_count int)"
    )
    con.executemany("insert into vacancy_by_territory values (?, ?, ?, ?, ?)", rows)
    _publish(con, ["vacancy_by_territory"])
    published = {
        r[0]: r[1:]
        for r in con.execute(
            "select territory_code, parent_code, dwelling_count, vacant_housing_count from public.vacancy_by_territory"
        ).fetchall()
    }
    truth = {r[1]: r[3:] for r in rows}
    suppressed_cells = recovered = 0
    for parent, (_, *parent_values) in ((c, v) for c, v in published.items() if v[0] is None):
        children = [c for c, v in published.items() if v[0] == parent]
        for k in range(2):
            for child in children:
                if published[child][1 + k] is not None or truth[child][k] == 0:
                    continue
                suppressed_cells += 1
                others = [_interval(published[o][1 + k]) for o in children if o != child]
                possible = _candidates(_interval(parent_values[k]), others)
                assert truth[child][k] in possible  # the reader's reasoning is right...
                recovered += len(possible) < 2  # ...and never narrows to one value
    assert suppressed_cells > 20 and recovered == 0, (suppressed_cells, recovered)


def test_the_same_figure_in_two_marts_is_shown_the_same_way_and_cannot_be_subtracted_back():
    """campaign_funnel (per établissement) and campaign_funnel_by_territory (per département): a
    DDT covering one département has the same true counts in both, so the same shown values; for
    any pair of true values, the two shown figures leave several candidates for their difference."""
    for a, b in itertools.product(range(0, 40), repeat=2):
        sa, sb = public_views.shown_count(a, THRESHOLD, BASE), public_views.shown_count(b, THRESHOLD, BASE)
        if a == b:
            assert sa == sb
        if 0 < abs(a - b) < THRESHOLD and sa is not None and sb is not None:
            lo_a, hi_a = _interval(sa)
            lo_b, hi_b = _interval(sb)
            possible = {d for d in range(1, THRESHOLD) if lo_a - hi_b <= d <= hi_a - lo_b or lo_b - hi_a <= d <= hi_b - lo_a}
            assert len(possible) >= 2, (a, b, sa, sb)
