{#
  ZLV's definitions of the follow-up and activity indicators, one place each (ZLV's warehouse:
  analytics/dbt/models/intermediate/production/int_production_campaigns_stats.sql,
  marts/production/marts_production_establishments_activation.sql).
#}

{# A return of a campaign: a follow-up update (status or occupancy changed) of one of its
   dwellings strictly after the campaign was sent and before sent + N months. #}
{% macro is_campaign_return(updated_at, sent_at, months) -%}
    coalesce({{ updated_at }} > {{ sent_at }} and {{ updated_at }} < {{ sent_at }} + interval {{ months }} month, false)
{%- endmacro %}

{# The return windows the dashboards show, in months. #}
{% macro campaign_return_windows() -%}
    {{ return([3, 6, 9, 36]) }}
{%- endmacro %}

{# A rate in percent of the campaign's dwellings; NULL when it holds none. #}
{% macro percent_of(count_expression, total_expression) -%}
    round(100.0 * {{ count_expression }} / nullif({{ total_expression }}, 0), 2)
{%- endmacro %}

{# Signed in within the last N days before the reference time. #}
{% macro connected_within_days(last_authenticated_at, reference_at, days) -%}
    coalesce({{ last_authenticated_at }} > {{ reference_at }} - interval {{ days }} day, false)
{%- endmacro %}

{# The 4-level activation of an établissement from its groups, campaigns and sent campaigns
   (counts, never NULL): (1) inactive, (2) analysing, (3) campaigning, (4) activated = at least
   one campaign created and one sent. #}
{% macro activation_level(groups_count, campaigns_count, sent_campaigns_count) -%}
    case
        when {{ campaigns_count }} > 0 and {{ sent_campaigns_count }} > 0 then '(4) CT activée'
        when {{ campaigns_count }} > 0 then '(3) CT en campagne'
        when {{ groups_count }} > 0 then '(2) CT en analyse'
        else '(1) CT inactive'
    end
{%- endmacro %}

{# The detailed typology: the activated split on whether its users updated a follow-up
   (pro-active without, exemplary with), each level split on a sign-in within 60 days
   (.1 ghost without, .2 visiting with). #}
{% macro activation_typology(groups_count, campaigns_count, sent_campaigns_count, has_updated_followup, connected_60d) -%}
    case
        when {{ campaigns_count }} > 0 and {{ sent_campaigns_count }} > 0 and {{ has_updated_followup }} then '(5) CT exemplaire'
        when {{ campaigns_count }} > 0 and {{ sent_campaigns_count }} > 0 then '(4) CT pro-active'
        when {{ campaigns_count }} > 0 then '(3) CT en campagne'
        when {{ groups_count }} > 0 then '(2) CT en analyse'
        else '(1) CT inactive'
    end
    || case when {{ connected_60d }} then '.2 visiteuse' else '.1 fantôme' end
{%- endmacro %}
