with

source as (

    select * from {{ source('production', 'owners_housing') }}

),

renamed as (

    select
        owner_id,
        housing_id,
        housing_geo_code,
        rank as owner_rank,
        rank = 1 as is_main_owner,
        start_date,
        end_date,
        origin,
        idprocpte as ff_owner_account_id,
        idprodroit as ff_property_right_id,
        property_right

    from source

)

select * from renamed
