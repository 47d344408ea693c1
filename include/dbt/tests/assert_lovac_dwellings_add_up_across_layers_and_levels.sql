-- Reconciliation between layers and territory levels, per millésime: the dwellings of staging
-- (one per local id) are those of int_lovac_housing_located; the national total of every count
-- is the same summed over régions, départements and communes; over EPCI it is that total less the
-- dwellings of communes in no EPCI. A row here is a dwelling lost or doubled somewhere.
with

staged as (

    select lovac_millesime, count(*) as dwellings, count(distinct local_id) as distinct_dwellings
    from {{ ref('stg_locomvac__lovac') }}
    group by lovac_millesime

),

located as (

    select
        lovac_millesime,
        count(*) as dwellings,
        count(*) filter (where is_dwelling) as dwelling_count,
        count(*) filter (where is_dwelling and epci_siren is null) as dwelling_count_outside_epci,
        count(*) filter (where is_vacant_over_two_years_public) as headline_count,
        count(*) filter (where is_vacant_over_two_years_public and epci_siren is null) as headline_count_outside_epci
    from {{ ref('int_lovac_housing_located') }}
    group by lovac_millesime

),

levels as (

    select
        lovac_millesime,
        territory_level,
        sum(dwelling_count) as dwelling_count,
        sum(vacant_over_two_years_public_count) as headline_count
    from {{ ref('vacancy_by_territory') }}
    group by lovac_millesime, territory_level

)

select
    located.lovac_millesime,
    levels.territory_level,
    staged.dwellings as staged_dwellings,
    staged.distinct_dwellings as staged_distinct_dwellings,
    located.dwellings as located_dwellings,
    levels.dwelling_count,
    located.dwelling_count as national_dwelling_count,
    levels.headline_count,
    located.headline_count as national_headline_count

from located
inner join staged
    on located.lovac_millesime = staged.lovac_millesime
left join levels
    on located.lovac_millesime = levels.lovac_millesime
where
    staged.dwellings <> staged.distinct_dwellings
    or located.dwellings <> staged.dwellings
    or levels.territory_level is null
    or (
        levels.territory_level in ('commune', 'departement', 'region')
        and (levels.dwelling_count <> located.dwelling_count or levels.headline_count <> located.headline_count)
    )
    or (
        levels.territory_level = 'epci'
        and (
            levels.dwelling_count <> located.dwelling_count - located.dwelling_count_outside_epci
            or levels.headline_count <> located.headline_count - located.headline_count_outside_epci
        )
    )
