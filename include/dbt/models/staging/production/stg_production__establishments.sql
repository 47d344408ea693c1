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
        -- arrays in production: an établissement may span several départements / régions
        dep_code as departement_codes,
        reg_code as region_codes,
        case when len(dep_code) = 1 then dep_code[1] end as departement_code,
        case when len(reg_code) = 1 then reg_code[1] end as region_code,
        available as is_available,
        deleted_at is not null as is_deleted,
        updated_at,
        deleted_at

    from source

)

select * from renamed
