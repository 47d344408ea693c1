with

source as (

    select * from {{ source('production', 'housing_events') }}

),

renamed as (

    select
        event_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
