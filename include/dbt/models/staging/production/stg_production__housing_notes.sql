with

source as (

    select * from {{ source('production', 'housing_notes') }}

),

renamed as (

    select
        note_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
