with

source as (

    select * from {{ source('production', 'localities') }}

),

renamed as (

    select
        id as locality_id,
        cast(geo_code as varchar) as commune_code,
        name as locality_name,
        locality_kind,
        tax_kind,
        tax_rate

    from source

)

select * from renamed
