{#
  ZLV's definitions of the LOVAC indicators, one place each (ZLV's warehouse: analytics/dbt/macros/
  lovac/filters_lovac.sql, seeds/lovac_public_criteria.csv). Every LOVAC line is a dwelling of the
  vacancy-tax file; the ingestion keeps one line per ff_idlocal (include/config/file_families.yml,
  on_duplicate_key), so the marts count dwellings, not lines.
#}

{# A dwelling in ZLV's sense: assigned to housing (aff 'H'), a flat or a house. #}
{% macro is_lovac_housing(assignment_code, housing_kind) -%}
    coalesce({{ assignment_code }} = 'H' and {{ housing_kind }} in ('APPART', 'MAISON'), false)
{%- endmacro %}

{# The private stock: owner groups 1-6 (public bodies, social landlords...) and 9 are not
   private; no group (NULL) is a private person. #}
{% macro is_private_owner_group(owner_group) -%}
    coalesce({{ owner_group }} not in (1, 2, 3, 4, 5, 6, 9), true)
{%- endmacro %}

{# Vacant for more than two years at the data year: the vacancy started strictly before
   data_year - 2 (for data year 2024: in 2021 or before). Unknown start: not counted. #}
{% macro is_vacant_over_two_years(vacancy_start_year, data_year) -%}
    coalesce({{ vacancy_start_year }} < {{ data_year }} - 2, false)
{%- endmacro %}

{# FIL: a private dwelling vacant for more than two years. #}
{% macro is_fil(assignment_code, housing_kind, owner_group, vacancy_start_year, data_year) -%}
    (
        {{ is_lovac_housing(assignment_code, housing_kind) }}
        and {{ is_private_owner_group(owner_group) }}
        and {{ is_vacant_over_two_years(vacancy_start_year, data_year) }}
    )
{%- endmacro %}

{# FIL whose FF occupancy also says vacant (ff_ccthp 'V'). #}
{% macro is_fil_ccthp(is_fil_expression, ff_occupancy) -%}
    ({{ is_fil_expression }} and coalesce({{ ff_occupancy }} = 'V', false))
{%- endmacro %}

{# "Logements vacants > 2 ans du parc privé", the published figure: FIL or FIL-ccthp as the
   millésime's criterion says (seeds/lovac_public_criteria.csv). A millésime without a declared
   criterion gives NULL, which the not_null test on the column stops. #}
{% macro is_vacant_over_two_years_public(public_criterion, is_fil_expression, is_fil_ccthp_expression) -%}
    case {{ public_criterion }}
        when 'fil' then {{ is_fil_expression }}
        when 'fil_ccthp' then {{ is_fil_ccthp_expression }}
    end
{%- endmacro %}
