{#- Housing follow-up statuses, the list index being the code stored in fast_housing.status:
    0 never contacted, 1 waiting, 2 first contact, 3 in progress, 4 completed (exit from vacancy),
    5 blocked. The labels are the ones the application writes in its events. -#}
{% macro housing_status_labels() %}
    {{ return(['never-contacted', 'waiting', 'first-contact', 'in-progress', 'completed', 'blocked']) }}
{% endmacro %}

{% macro housing_status_label(status_column) -%}
    case {{ status_column }}
        {%- for label in housing_status_labels() %}
        when {{ loop.index0 }} then '{{ label }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- The status code in an event's JSON payload: {"status": 2} or the label {"status": "first-contact"}. -#}
{% macro housing_status_from_json(json_column) -%}
    case json_extract_string({{ json_column }}, '$.status')
        {%- for label in housing_status_labels() %}
        when '{{ label }}' then {{ loop.index0 }}
        {%- endfor %}
        else try_cast(json_extract_string({{ json_column }}, '$.status') as integer)
    end
{%- endmacro %}
