{#- Fails for every row whose `form_column` holds a value (a status or sub-status as production
    wrote it) that the vocabulary seeds did not map (`column_name` NULL): a new label in the
    application must become a row of the seed, never a silent NULL. The failing rows name the form. -#}
{% test mapped_through_vocabulary(model, column_name, form_column) %}

select
    {{ form_column }} as unmapped_form,
    count(*) as occurrences

from {{ model }}
where {{ form_column }} is not null and {{ column_name }} is null
group by {{ form_column }}

{% endtest %}
