{#- The one status vocabulary. Statuses and sub-statuses are read through the seeds
    housing_status_forms and housing_sub_statuses, never through a list in a model: the events
    carry French labels today, slugs or integers in older payloads, and a form the seeds lack
    stays NULL here and fails the events' `mapped_through_vocabulary` tests. -#}

{#- The matching key of a vocabulary form: Unicode composed, typographic apostrophe as ',
    case and surrounding or doubled spaces ignored. -#}
{% macro vocabulary_key(expression) -%}
    nullif(lower(regexp_replace(trim(replace(nfc_normalize(cast({{ expression }} as varchar)), '’', '''')), '\s+', ' ', 'g')), '')
{%- endmacro %}

{#- A text value read from an event payload: NULL for a missing key, a JSON null or blank text. -#}
{% macro payload_text(json_column, key) -%}
    nullif(trim(json_extract_string({{ json_column }}, '$.{{ key }}')), '')
{%- endmacro %}

{#- The status code (0-5) of a status form (label, slug, integer), NULL when unknown. -#}
{% macro housing_status_code(form_expression) -%}
    (
        select forms.status_code
        from {{ ref('housing_status_forms') }} as forms
        where {{ vocabulary_key('forms.status_form') }} = {{ vocabulary_key(form_expression) }}
    )
{%- endmacro %}

{#- The sub-status code implied by a former status label written alone ("Sortie de la vacance"). -#}
{% macro housing_status_implied_sub_status(form_expression) -%}
    (
        select nullif(forms.implied_sub_status_code, '')
        from {{ ref('housing_status_forms') }} as forms
        where {{ vocabulary_key('forms.status_form') }} = {{ vocabulary_key(form_expression) }}
    )
{%- endmacro %}

{#- The stable code of a sub-status label, NULL when unknown. -#}
{% macro housing_sub_status_code(label_expression) -%}
    (
        select sub_statuses.sub_status_code
        from {{ ref('housing_sub_statuses') }} as sub_statuses
        where {{ vocabulary_key('sub_statuses.sub_status_label') }} = {{ vocabulary_key(label_expression) }}
    )
{%- endmacro %}

{#- The application's current French label of a status code. -#}
{% macro housing_status_label(status_code_expression) -%}
    (
        select forms.status_form
        from {{ ref('housing_status_forms') }} as forms
        where forms.form_kind = 'label' and forms.status_code = {{ status_code_expression }}
    )
{%- endmacro %}

{#- The one definition of an exit from vacancy: status 4 with the sub-status "Sortie de la vacance". -#}
{% macro is_exit_from_vacancy(status_code_expression, sub_status_code_expression) -%}
    coalesce(
        {{ status_code_expression }} = 4
        and {{ sub_status_code_expression }} in (
            select sub_statuses.sub_status_code
            from {{ ref('housing_sub_statuses') }} as sub_statuses
            where sub_statuses.is_exit_from_vacancy
        ),
        false
    )
{%- endmacro %}
