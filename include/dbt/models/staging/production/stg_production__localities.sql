with

source as (

    select * from {{ source('production', 'localities') }}

),

renamed as (

    select
        cast(geo_code as varchar) as commune_code,
        name as locality_name,
        locality_kind,
        tax_kind

    from source

)

select * from renamed
