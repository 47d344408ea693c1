with

source as (

    select * from {{ source('production', 'campaigns_housing') }}

),

renamed as (

    -- `advice` (free text) is left out
    select
        campaign_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
