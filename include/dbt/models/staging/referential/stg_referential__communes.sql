-- The communes of the current COG with their EPCI, département and région (one row each).
with

communes as (

    select * from {{ source('referential', 'communes') }}

),

epci as (

    select * from {{ source('referential', 'epci') }}

),

departements as (

    select * from {{ source('referential', 'departements') }}

),

regions as (

    select * from {{ source('referential', 'regions') }}

),

cog as (

    select max(cog_millesime) as cog_millesime from {{ source('referential', 'source') }}

),

final as (

    select
        communes.commune_code,
        communes.commune_name,
        communes.population,
        communes.epci_code as epci_siren,
        epci.epci_name,
        epci.epci_kind,
        communes.departement_code,
        departements.departement_name,
        departements.region_code,
        regions.region_name,
        cog.cog_millesime

    from communes
    left join epci
        on communes.epci_code = epci.epci_code
    inner join departements
        on communes.departement_code = departements.departement_code
    inner join regions
        on departements.region_code = regions.region_code
    cross join cog

)

select * from final
