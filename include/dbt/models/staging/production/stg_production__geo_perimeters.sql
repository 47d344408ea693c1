with

source as (

    select * from {{ source('production', 'geo_perimeters') }}

),

renamed as (

    -- `geom` is a DuckDB GEOMETRY (spatial extension, loaded by dbt's profile); its SRID travels
    -- in geom_srid, 4326 (WGS 84) as in production
    select
        id as geo_perimeter_id,
        establishment_id,
        name as geo_perimeter_name,
        kind as geo_perimeter_kind,
        geom as perimeter_geometry,
        geom_srid as perimeter_srid,
        created_at,
        created_by as created_by_user_id

    from source

)

select * from renamed
