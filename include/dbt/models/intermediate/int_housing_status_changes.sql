with

events as (

    select * from {{ ref('stg_production__events') }}

),

housing_events as (

    select * from {{ ref('stg_production__housing_events') }}

),

status_events as (

    -- the ingestion copies only status updates; filtered again so the grain never depends on it
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
        status_events.created_at as changed_at,
        status_events.created_by_user_id as changed_by_user_id

    from housing_events
    inner join status_events
        on housing_events.event_id = status_events.event_id

),

final as (

    select
        *,
        coalesce(new_status = 4 and old_status is distinct from 4, false) as is_exit_from_vacancy,
        row_number() over (
            partition by housing_id order by changed_at, event_id
        ) as change_number

    from joined

)

select * from final
