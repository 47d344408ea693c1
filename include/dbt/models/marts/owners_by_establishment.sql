-- Owners in aggregate, never a row per person: per établissement territory and owner kind, the
-- owners of its dwellings in ZLV (current links, every rank), how many own several of them, and
-- the dwellings with several owners ("Parcs de logements", owners section).
with

establishment_communes as (

    select * from {{ ref('int_establishment_communes') }}

),

links as (

    select
        owners_housing.owner_id,
        owners_housing.housing_id,
        coalesce(territory.commune_code, owners_housing.housing_geo_code) as commune_code,
        coalesce(nullif(trim(owners.kind_class), ''), 'inconnu') as owner_kind

    from {{ ref('stg_production__owners_housing') }} as owners_housing
    inner join {{ ref('stg_production__owners') }} as owners
        on owners_housing.owner_id = owners.owner_id
    {{ territory_join('owners_housing.housing_geo_code') }}
    where owners_housing.end_date is null

),

per_owner as (

    select
        establishment_communes.establishment_id,
        links.owner_kind,
        links.owner_id,
        count(distinct links.housing_id) as dwellings_count

    from links
    inner join establishment_communes
        on links.commune_code = establishment_communes.commune_code
    group by all

),

co_owned as (

    select establishment_communes.establishment_id, count(*) as co_owned_dwellings_count
    from (
        select housing_id, commune_code from links group by all having count(distinct owner_id) > 1
    ) as dwellings
    inner join establishment_communes
        on dwellings.commune_code = establishment_communes.commune_code
    group by all

),

final as (

    select
        per_owner.establishment_id,
        per_owner.owner_kind,
        count(*) as owners_count,
        count(*) filter (where per_owner.dwellings_count > 1) as multi_dwelling_owners_count,
        cast(sum(per_owner.dwellings_count) as bigint) as owned_dwellings_count,
        max(coalesce(co_owned.co_owned_dwellings_count, 0)) as establishment_co_owned_dwellings_count

    from per_owner
    left join co_owned
        on per_owner.establishment_id = co_owned.establishment_id
    group by per_owner.establishment_id, per_owner.owner_kind

)

select * from final
