with

housing as (

    select * from {{ ref('stg_production__housing') }}

),

lovac as (

    select * from {{ ref('stg_locomvac__lovac') }}

),

ff_housing as (

    select * from {{ ref('stg_ff__housing') }}

),

-- the housing's row in the most recent LOVAC millésime it appears in
latest_lovac as (

    select
        local_id,
        lovac_millesime,
        lovac_millesime = max(lovac_millesime) over () as is_in_latest_lovac,
        vacancy_start_year,
        owner_group,
        is_vacant,
        is_private,
        is_fil

    from lovac
    qualify row_number() over (partition by local_id order by lovac_millesime desc) = 1

),

-- the housing's row in the most recent FF millésime it appears in
latest_ff as (

    select
        local_id,
        ff_millesime,
        occupancy,
        is_vacant,
        property_rights_count,
        owner_category

    from ff_housing
    qualify row_number() over (partition by local_id order by ff_millesime desc) = 1

),

final as (

    select
        -- production housing
        housing.housing_id,
        housing.local_id,
        housing.geo_code,
        housing.building_id,
        housing.housing_kind,
        housing.rooms_count,
        housing.living_area,
        housing.building_year,
        housing.occupancy,
        housing.vacancy_start_year,
        housing.is_taxed,
        housing.status,
        housing.status_label,
        housing.sub_status,

        -- territory, on the current COG
        {{ territory_columns('housing.geo_code') }},

        -- latest LOVAC
        latest_lovac.lovac_millesime,
        coalesce(latest_lovac.is_in_latest_lovac, false) as is_in_latest_lovac,
        latest_lovac.vacancy_start_year as lovac_vacancy_start_year,
        latest_lovac.owner_group as lovac_owner_group,
        latest_lovac.is_vacant as lovac_is_vacant,
        latest_lovac.is_private as lovac_is_private,
        latest_lovac.is_fil as lovac_is_fil,

        -- latest Fichiers Fonciers
        latest_ff.ff_millesime,
        latest_ff.occupancy as ff_occupancy,
        latest_ff.is_vacant as ff_is_vacant,
        latest_ff.property_rights_count as ff_property_rights_count,
        latest_ff.owner_category as ff_owner_category

    from housing
    {{ territory_join('housing.geo_code') }}
    left join latest_lovac
        on housing.local_id = latest_lovac.local_id
    left join latest_ff
        on housing.local_id = latest_ff.local_id

)

select * from final
