with

lovac as (

    select * from {{ ref('stg_locomvac__lovac') }}

),

communes_by_cog as (

    select * from {{ ref('stg_referential__communes_by_cog') }}

),

-- the COG a millésime is keyed on: the latest loaded not after its FF year (millésime - 1), or
-- the earliest loaded for older millésimes
millesime_cog as (

    select
        millesimes.lovac_millesime,
        coalesce(
            max(cogs.cog_millesime) filter (where cogs.cog_millesime <= millesimes.lovac_millesime - 1),
            min(cogs.cog_millesime)
        ) as cog_millesime

    from (select distinct lovac_millesime from lovac) as millesimes
    cross join (select distinct cog_millesime from communes_by_cog) as cogs
    group by millesimes.lovac_millesime

),

criteria as (

    select * from {{ ref('lovac_public_criteria') }}

),

final as (

    select
        lovac.lovac_millesime,
        lovac.local_id,
        -- the millésime's commune code, and where it is on the current COG
        lovac.commune_code as source_commune_code,
        {{ territory_columns('lovac.commune_code') }},
        -- the EPCI of the millésime's own year (EPCI membership changes yearly)
        millesime_cog.cog_millesime as millesime_cog,
        commune_of_its_year.epci_siren as millesime_epci_siren,
        lovac.living_area,
        lovac.is_dwelling,
        lovac.is_housing,
        lovac.is_vacant,
        lovac.is_private,
        lovac.is_fil,
        lovac.is_fil_ccthp,
        criteria.public_criterion,
        {{ is_vacant_over_two_years_public('criteria.public_criterion', 'lovac.is_fil', 'lovac.is_fil_ccthp') }}
            as is_vacant_over_two_years_public

    from lovac
    {{ territory_join('lovac.commune_code') }}
    left join criteria
        on lovac.lovac_millesime = criteria.lovac_millesime
    left join millesime_cog
        on lovac.lovac_millesime = millesime_cog.lovac_millesime
    left join communes_by_cog as commune_of_its_year
        on millesime_cog.cog_millesime = commune_of_its_year.cog_millesime
        and lovac.commune_code = commune_of_its_year.commune_code

)

select * from final
