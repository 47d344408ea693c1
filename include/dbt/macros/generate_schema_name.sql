{#- Use a model's custom schema verbatim (`marts`, not `main_marts`): the warehouse has one
    target, and Metabase and the ingestion refer to these schema names directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
