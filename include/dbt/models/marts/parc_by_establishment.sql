-- The housing stock of each établissement's territory (the communes of its perimeter) per
-- millésime, for "Parcs de logements": the LOVAC stock with ZLV's definitions (every vacant
-- dwelling, private, FIL, FIL-ccthp, the published headline), the FF stock (dwellings, vacant,
-- rented) of the same year, and the dwellings of the territory imported in ZLV.
with

establishment_communes as (

    select * from {{ ref('int_establishment_communes') }}

),

lovac as (

    select
        commune_code,
        lovac_millesime as millesime,
        count(*) filter (where is_housing) as vacant_housing_count,
        count(*) filter (where is_housing and is_private) as private_vacant_housing_count,
        count(*) filter (where is_fil) as fil_housing_count,
        count(*) filter (where is_fil_ccthp) as fil_ccthp_housing_count,
        count(*) filter (where is_vacant_over_two_years_public) as vacant_over_two_years_public_count,
        sum(living_area) filter (where is_housing) as vacant_living_area_m2

    from {{ ref('int_lovac_housing_located') }}
    group by all

),

ff as (

    select
        coalesce(territory.commune_code, ff_housing.commune_code) as commune_code,
        ff_housing.ff_millesime as millesime,
        count(*) filter (where ff_housing.housing_kind is not null) as ff_housing_count,
        count(*) filter (where ff_housing.housing_kind is not null and ff_housing.is_vacant) as ff_vacant_housing_count,
        count(*) filter (where ff_housing.housing_kind is not null and ff_housing.occupancy = 'L') as ff_rented_housing_count

    from {{ ref('stg_ff__housing') }} as ff_housing
    {{ territory_join('ff_housing.commune_code') }}
    group by all

),

zlv as (

    select
        coalesce(territory.commune_code, housing.geo_code) as commune_code,
        count(*) as zlv_housing_count

    from {{ ref('stg_production__housing') }} as housing
    {{ territory_join('housing.geo_code') }}
    group by all

),

millesimes as (

    select millesime from lovac
    union
    select millesime from ff

),

final as (

    select
        establishment_communes.establishment_id,
        millesimes.millesime,
        count(distinct establishment_communes.commune_code) as communes_count,
        cast(coalesce(sum(lovac.vacant_housing_count), 0) as bigint) as vacant_housing_count,
        cast(coalesce(sum(lovac.private_vacant_housing_count), 0) as bigint) as private_vacant_housing_count,
        cast(coalesce(sum(lovac.fil_housing_count), 0) as bigint) as fil_housing_count,
        cast(coalesce(sum(lovac.fil_ccthp_housing_count), 0) as bigint) as fil_ccthp_housing_count,
        cast(coalesce(sum(lovac.vacant_over_two_years_public_count), 0) as bigint) as vacant_over_two_years_public_count,
        cast(coalesce(sum(lovac.vacant_living_area_m2), 0) as bigint) as vacant_living_area_m2,
        cast(coalesce(sum(ff.ff_housing_count), 0) as bigint) as ff_housing_count,
        cast(coalesce(sum(ff.ff_vacant_housing_count), 0) as bigint) as ff_vacant_housing_count,
        cast(coalesce(sum(ff.ff_rented_housing_count), 0) as bigint) as ff_rented_housing_count,
        cast(coalesce(sum(zlv.zlv_housing_count), 0) as bigint) as zlv_housing_count

    from establishment_communes
    cross join millesimes
    left join lovac
        on establishment_communes.commune_code = lovac.commune_code
        and millesimes.millesime = lovac.millesime
    left join ff
        on establishment_communes.commune_code = ff.commune_code
        and millesimes.millesime = ff.millesime
    left join zlv
        on establishment_communes.commune_code = zlv.commune_code
    group by establishment_communes.establishment_id, millesimes.millesime

)

select * from final
