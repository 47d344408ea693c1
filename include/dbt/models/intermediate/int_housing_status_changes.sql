with

events as (

    select * from {{ ref('stg_production__events') }}

),

housing_events as (

    select * from {{ ref('stg_production__housing_events') }}

),

status_events as (

    -- events of every type are copied; this model's grain is the status updates
    select * from events
    where event_type = 'housing:status-updated'

),

joined as (

    select
        housing_events.event_id,
        housing_events.housing_id,
        housing_events.housing_geo_code,
        status_events.old_status,
        status_events.new_status,
        status_events.old_sub_status_code,
        status_events.new_sub_status_code,
        status_events.created_at as changed_at,
        status_events.created_by_user_id as changed_by_user_id

    from housing_events
    inner join status_events
        on housing_events.event_id = status_events.event_id

),

final as (

    select
        *,
        -- an exit is entered, not repeated: a change from an exit to an exit is not a new one
        {{ is_exit_from_vacancy('new_status', 'new_sub_status_code') }}
        and not {{ is_exit_from_vacancy('old_status', 'old_sub_status_code') }} as is_exit_from_vacancy,
        row_number() over (
            partition by housing_id order by changed_at, event_id
        ) as change_number

    from joined

)

select * from final
