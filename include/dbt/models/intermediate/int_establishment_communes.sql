-- One row per établissement (not deleted) and commune of its perimeter, on the current COG (a
-- perimeter may name an arrondissement or a former commune): the territory every per-établissement
-- mart counts on.
with

establishments as (

    select * from {{ ref('stg_production__establishments') }}
    where not is_deleted

),

final as (

    select distinct
        establishments.establishment_id,
        coalesce(territory.commune_code, locality.geo_code) as commune_code

    from establishments
    cross join unnest(establishments.locality_geo_codes) as locality(geo_code)
    {{ territory_join('locality.geo_code') }}

)

select * from final
