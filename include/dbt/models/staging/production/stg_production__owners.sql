with

source as (

    select * from {{ source('production', 'owners') }}

),

renamed as (

    -- `administrator` (free text naming the owner's administrator, often a person) is left out
    select
        id as owner_id,
        idpersonne as idpersonne_hash,
        full_name as full_name_hash,
        email as email_hash,
        siren,
        kind_class,
        entity,
        data_source,
        created_at,
        updated_at

    from source

)

select * from renamed
