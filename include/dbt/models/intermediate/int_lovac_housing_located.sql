with

lovac as (

    select * from {{ ref('stg_locomvac__lovac') }}

),

final as (

    select
        lovac.lovac_millesime,
        lovac.local_id,
        -- the millésime's commune code, and where it is on the current COG
        lovac.commune_code as source_commune_code,
        {{ territory_columns('lovac.commune_code') }},
        lovac.is_dwelling,
        lovac.is_vacant,
        lovac.is_private,
        lovac.is_fil,
        coalesce(lovac.is_vacant and lovac.vacancy_start_year < lovac.data_year - 2, false) as is_long_term_vacant

    from lovac
    {{ territory_join('lovac.commune_code') }}

)

select * from final
