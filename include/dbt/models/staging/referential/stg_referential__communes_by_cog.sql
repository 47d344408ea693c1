-- The communes of each COG millésime loaded, with the EPCI they belonged to that year.
with

communes as (

    select * from {{ source('referential', 'communes_by_cog') }}

),

final as (

    select
        cog_millesime,
        commune_code,
        commune_name,
        departement_code,
        epci_code as epci_siren,
        epci_name

    from communes

)

select * from final
