-- Status transitions per département and month (old -> new status), pre-aggregated for the
-- follow-up dashboard: a few hundred rows instead of the event log.
with

changes as (

    select * from {{ ref('int_housing_status_changes') }}

),

located as (

    select
        {{ territory_columns('changes.housing_geo_code') }},
        cast(date_trunc('month', changes.changed_at) as date) as change_month,
        changes.old_status,
        changes.new_status,
        changes.housing_id,
        changes.is_exit_from_vacancy

    from changes
    {{ territory_join('changes.housing_geo_code') }}

),

final as (

    select
        departement_code,
        max(departement_name) as departement_name,
        change_month,
        old_status,
        {{ housing_status_label('old_status') }} as old_status_label,
        new_status,
        {{ housing_status_label('new_status') }} as new_status_label,
        count(*) as transitions_count,
        count(distinct housing_id) as housing_count,
        count(*) filter (where is_exit_from_vacancy) as exits_from_vacancy_count

    from located
    group by departement_code, change_month, old_status, new_status

)

select * from final
