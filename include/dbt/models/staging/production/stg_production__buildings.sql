with

source as (

    select * from {{ source('production', 'buildings') }}

),

renamed as (

    select
        -- ids
        id as building_id,
        rnb_id,
        rnb_id_score,
        rnb_footprint,

        -- housing counts
        housing_count,
        vacant_housing_count,
        rent_housing_count,

        -- energy performance of the building
        upper(trim(class_dpe)) as dpe_class,
        upper(trim(class_ges)) as ges_class,
        dpe_id,
        dpe_date_at as dpe_date,
        dpe_type,
        dpe_import_match,
        heating_building

    from source

)

select * from renamed
