with

source as (

    select * from {{ source('production', 'groups_housing') }}

),

renamed as (

    select
        group_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
