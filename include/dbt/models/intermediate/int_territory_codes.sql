-- Every commune code a source may carry -> the current commune and its EPCI, département and
-- région: the communes of the current COG themselves, the municipal arrondissements of Paris,
-- Lyon and Marseille, and the former communes merged into a commune nouvelle (older LOVAC and FF
-- millésimes are keyed on the communes of their year). Read through the territory macros.
with

communes as (

    select * from {{ ref('stg_referential__communes') }}

),

passage as (

    select * from {{ ref('stg_referential__commune_passage') }}

),

codes as (

    select commune_code as code, commune_code, 'commune' as passage_kind from communes
    union all
    select code, commune_code, passage_kind from passage
    where code not in (select commune_code from communes)

),

final as (

    select
        codes.code,
        codes.passage_kind,
        communes.commune_code,
        communes.commune_name,
        communes.epci_siren,
        communes.epci_name,
        communes.departement_code,
        communes.departement_name,
        communes.region_code,
        communes.region_name

    from codes
    inner join communes
        on codes.commune_code = communes.commune_code

)

select * from final
