-- Delays of the follow-up per département: how many housing were contacted, answered, left
-- vacancy, and how long it took from first contact (median and 90th percentile, in days).
with

milestones as (

    select * from {{ ref('int_housing_status_milestones') }}

),

located as (

    select
        {{ territory_columns('milestones.housing_geo_code') }},
        milestones.*

    from milestones
    {{ territory_join('milestones.housing_geo_code') }}

),

final as (

    select
        departement_code,
        max(departement_name) as departement_name,
        count(*) filter (where first_contacted_at is not null) as housing_contacted_count,
        count(*) filter (where first_answered_at is not null) as housing_answered_count,
        count(*) filter (where exited_vacancy_at is not null) as housing_exited_count,
        median(days_first_contact_to_answer) as median_days_first_contact_to_answer,
        median(days_first_contact_to_exit) as median_days_first_contact_to_exit,
        quantile_cont(days_first_contact_to_exit, 0.9) as p90_days_first_contact_to_exit

    from located
    group by departement_code

)

select * from final
