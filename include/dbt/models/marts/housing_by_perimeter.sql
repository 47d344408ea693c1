-- Dwellings inside each geographic perimeter (OPAH, ORT...) an établissement drew in ZLV, counted
-- by a spatial join of the dwellings' PostGIS locations on the perimeters' shapes (DuckDB spatial).
-- Only the établissement's own territory is searched: a perimeter counts the dwellings of the
-- communes the établissement covers.
with

perimeters as (

    select * from {{ ref('stg_production__geo_perimeters') }}
    where perimeter_srid = 4326

),

establishments as (

    select * from {{ ref('stg_production__establishments') }}

),

housing as (

    select * from {{ ref('stg_production__housing') }}
    where geolocation is not null and geolocation_srid = 4326

),

territory_housing as (

    -- the dwellings of the communes each établissement covers
    select
        establishments.establishment_id,
        housing.housing_id,
        housing.occupancy,
        housing.geolocation

    from establishments
    cross join unnest(establishments.locality_geo_codes) as covered(commune_code)
    inner join housing
        on housing.geo_code = covered.commune_code

),

inside as (

    select
        perimeters.geo_perimeter_id,
        count(distinct territory_housing.housing_id) as housing_count,
        count(distinct territory_housing.housing_id) filter (
            where territory_housing.occupancy = 'V'
        ) as vacant_housing_count

    from perimeters
    inner join territory_housing
        on perimeters.establishment_id = territory_housing.establishment_id
        and st_contains(perimeters.perimeter_geometry, territory_housing.geolocation)
    group by perimeters.geo_perimeter_id

),

final as (

    select
        perimeters.geo_perimeter_id,
        perimeters.establishment_id,
        perimeters.geo_perimeter_name,
        perimeters.geo_perimeter_kind,
        coalesce(inside.housing_count, 0) as housing_count,
        coalesce(inside.vacant_housing_count, 0) as vacant_housing_count

    from perimeters
    left join inside
        on perimeters.geo_perimeter_id = inside.geo_perimeter_id

)

select * from final
