with

source as (

    select * from {{ source('production', 'group_housing_events') }}

),

renamed as (

    select
        event_id,
        -- set to null in production when the group is deleted
        group_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
