with

source as (

    select * from {{ source('ff', 'ff_owners') }}

),

renamed as (

    select
        millesime as ff_millesime,
        idprodroit as property_right_id,
        idprocpte as owner_account_id,
        idpersonne as idpersonne_hash,
        idcom as commune_code,
        ccodro as property_right_code,
        ccogrm as legal_person_group,
        dsiren as siren,
        _source_key as source_key

    from source

)

select * from renamed
