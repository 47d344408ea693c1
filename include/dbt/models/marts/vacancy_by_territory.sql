{#- territory level -> (code column, name column) in int_lovac_housing_located -#}
{%- set territory_levels = {
    'commune': ('commune_code', 'commune_name'),
    'epci': ('epci_siren', 'epci_name'),
    'departement': ('departement_code', 'departement_name'),
    'region': ('region_code', 'region_name'),
} -%}

with

lovac_housing as (

    select * from {{ ref('int_lovac_housing_located') }}

),

-- one row per LOVAC local and territory level it belongs to
territory_housing as (

    {% for level, columns in territory_levels.items() %}
        select
            '{{ level }}' as territory_level,
            {{ columns[0] }} as territory_code,
            {{ columns[1] }} as territory_name,
            lovac_millesime,
            is_dwelling,
            is_housing,
            is_vacant,
            is_private,
            is_fil,
            is_fil_ccthp,
            is_vacant_over_two_years_public
        from lovac_housing
        where {{ columns[0] }} is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        territory_level,
        territory_code,
        max(territory_name) as territory_name,
        lovac_millesime,
        count(*) filter (where is_dwelling) as dwelling_count,
        count(*) filter (where is_housing) as vacant_housing_count,
        count(*) filter (where is_housing and is_private) as private_vacant_housing_count,
        count(*) filter (where is_fil) as fil_housing_count,
        count(*) filter (where is_fil_ccthp) as fil_ccthp_housing_count,
        count(*) filter (where is_vacant_over_two_years_public) as vacant_over_two_years_public_count

    from territory_housing
    group by territory_level, territory_code, lovac_millesime

)

select * from final
