with

source as (

    select * from {{ source('production', 'establishments') }}

),

renamed as (

    select
        id as establishment_id,
        name as establishment_name,
        cast(siren as varchar) as siren,
        kind as establishment_kind,
        localities_geo_code as locality_geo_codes,
        dep_code as departement_code,
        reg_code as region_code,
        available as is_available,
        deleted_at is not null as is_deleted,
        updated_at,
        deleted_at

    from source

)

select * from renamed
