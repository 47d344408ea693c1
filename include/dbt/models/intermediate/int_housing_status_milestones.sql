-- One row per housing that ever changed status: when it was first contacted, first answered
-- (in progress), left vacancy, and the delays between them. The dashboards' "time from first
-- contact to exit" comes from here.
with

changes as (

    select * from {{ ref('int_housing_status_changes') }}

),

milestones as (

    select
        housing_id,
        any_value(housing_geo_code) as housing_geo_code,
        count(*) as status_changes_count,
        min(changed_at) filter (where new_status >= 2 and new_status <> 5) as first_contacted_at,
        min(changed_at) filter (where new_status in (3, 4)) as first_answered_at,
        min(changed_at) filter (where is_exit_from_vacancy) as exited_vacancy_at,
        arg_max(new_status, change_number) as last_status

    from changes
    group by housing_id

),

final as (

    select
        *,
        date_diff('day', first_contacted_at, exited_vacancy_at) as days_first_contact_to_exit,
        date_diff('day', first_contacted_at, first_answered_at) as days_first_contact_to_answer

    from milestones

)

select * from final
