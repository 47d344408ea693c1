with

lovac as (

    select * from {{ ref('stg_locomvac__lovac') }}

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

)

select * from final
