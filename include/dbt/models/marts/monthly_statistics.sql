{#- series -> (model, date column, filter) counted per calendar month -#}
{%- set series = {
    'users_signed_up': ('stg_production__users', 'activated_at', 'not is_deleted'),
    'campaigns_created': ('stg_production__campaigns', 'created_at', 'true'),
    'campaigns_validated': ('stg_production__campaigns', 'validated_at', 'true'),
    'campaigns_sent': ('stg_production__campaigns', 'sent_at', 'true'),
} -%}

-- One row per month since January 2020: sign-ups, établissements activated (their first user's
-- activation), campaigns created / validated / sent (each in the month of its own date, where
-- ZLV's warehouse files all three under the creation month), dwellings followed (their first
-- follow-up update), each with its running total.
with

months as (

    select cast(month_start as date) as month_start
    from generate_series(date '2020-01-01', cast(date_trunc('month', current_date) as date), interval 1 month) as spine(month_start)

),

{% for name, spec in series.items() %}
{{ name }} as (

    select cast(date_trunc('month', {{ spec[1] }}) as date) as month_start, count(*) as {{ name }}_count
    from {{ ref(spec[0]) }}
    where {{ spec[1] }} is not null and {{ spec[2] }}
    group by 1

),
{% endfor %}

establishments_activated as (

    select cast(date_trunc('month', first_user_activated_at) as date) as month_start, count(*) as establishments_activated_count
    from {{ ref('establishment_activity') }}
    where first_user_activated_at is not null
    group by 1

),

housing_followed as (

    select cast(date_trunc('month', first_updated_at) as date) as month_start, count(*) as housing_followed_count
    from (
        select housing_id, min(updated_at) as first_updated_at
        from {{ ref('int_housing_followup_updates') }}
        group by housing_id
    ) as first_updates
    group by 1

),

final as (

    select
        months.month_start,
        {% for name in (series.keys() | list) + ['establishments_activated', 'housing_followed'] %}
        coalesce({{ name }}.{{ name }}_count, 0) as {{ name }}_count,
        cast(sum(coalesce({{ name }}.{{ name }}_count, 0)) over (order by months.month_start) as bigint) as cumulative_{{ name }}_count{% if not loop.last %},{% endif %}
        {% endfor %}

    from months
    {% for name in (series.keys() | list) + ['establishments_activated', 'housing_followed'] %}
    left join {{ name }}
        on months.month_start = {{ name }}.month_start
    {% endfor %}

)

select * from final
