with

lovac as (

    select * from {{ ref('stg_locomvac__lovac') }}

),

communes as (

    select * from {{ ref('cog_communes_2024') }}

),

final as (

    select
        lovac.lovac_millesime,
        lovac.local_id,
        lovac.commune_code,
        communes.commune_name,
        communes.epci_siren,
        communes.epci_name,
        -- LOVAC's own département code still places a commune missing from the COG extract
        coalesce(communes.departement_code, lovac.departement_code) as departement_code,
        communes.departement_name,
        communes.region_code,
        communes.region_name,
        lovac.is_dwelling,
        lovac.is_vacant,
        lovac.is_private,
        lovac.is_fil,
        coalesce(lovac.is_vacant and lovac.vacancy_start_year < lovac.data_year - 2, false) as is_long_term_vacant

    from lovac
    left join communes
        on lovac.commune_code = communes.commune_code

)

select * from final
