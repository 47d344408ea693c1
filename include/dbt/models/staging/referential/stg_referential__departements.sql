-- The départements of the current COG (101: 2A and 2B for Corsica, 971-976 overseas) with their région.
with

departements as (

    select * from {{ source('referential', 'departements') }}

),

regions as (

    select * from {{ source('referential', 'regions') }}

),

final as (

    select
        departements.departement_code,
        departements.departement_name,
        departements.region_code,
        regions.region_name

    from departements
    inner join regions
        on departements.region_code = regions.region_code

)

select * from final
