{#
  One place to put a commune code on the territory of the current COG.

  territory_join(code) joins int_territory_codes on a source's commune code (a commune of the
  current COG, a municipal arrondissement, or a former commune merged since); territory_columns(code)
  then gives the current commune, its EPCI, département and région. A code the referential does
  not know keeps its own value, and its département (and so its région) from its characters:
  2A/2B for Corsica, three characters overseas (971-976), two elsewhere (departement_of_commune).
#}

{% macro departement_of_commune(code) -%}
    case when {{ code }} like '97%' then left({{ code }}, 3) else left({{ code }}, 2) end
{%- endmacro %}

{% macro territory_join(code, alias='territory') -%}
    left join {{ ref('int_territory_codes') }} as {{ alias }}
        on {{ alias }}.code = {{ code }}
    left join {{ ref('stg_referential__departements') }} as {{ alias }}_departement
        on {{ alias }}_departement.departement_code = {{ departement_of_commune(code) }}
{%- endmacro %}

{% macro territory_columns(code, alias='territory') -%}
        coalesce({{ alias }}.commune_code, {{ code }}) as commune_code,
        {{ alias }}.commune_name,
        {{ alias }}.epci_siren,
        {{ alias }}.epci_name,
        coalesce({{ alias }}.departement_code, {{ departement_of_commune(code) }}) as departement_code,
        coalesce({{ alias }}.departement_name, {{ alias }}_departement.departement_name) as departement_name,
        coalesce({{ alias }}.region_code, {{ alias }}_departement.region_code) as region_code,
        coalesce({{ alias }}.region_name, {{ alias }}_departement.region_name) as region_name
{%- endmacro %}
