-- One row per follow-up update of a dwelling: a status or an occupancy that changed (what ZLV
-- counts as a campaign's return), with who made it and for which établissement.
with

events as (

    select * from {{ ref('stg_production__events') }}

),

housing_events as (

    select * from {{ ref('stg_production__housing_events') }}

),

users as (

    select * from {{ ref('stg_production__users') }}

),

updates as (

    select
        events.event_id,
        events.event_type,
        events.created_at as updated_at,
        events.created_by_user_id as updated_by_user_id,
        case
            when events.event_type = 'housing:status-updated'
                then events.new_status is distinct from events.old_status
                    or events.new_sub_status_code is distinct from events.old_sub_status_code
            else events.new_occupancy is distinct from events.old_occupancy
        end as has_changed

    from events
    where events.event_type in ('housing:status-updated', 'housing:occupancy-updated')

),

final as (

    select
        updates.event_id,
        housing_events.housing_id,
        housing_events.housing_geo_code,
        updates.event_type,
        updates.updated_at,
        updates.updated_by_user_id,
        users.establishment_id as updated_by_establishment_id

    from updates
    inner join housing_events
        on updates.event_id = housing_events.event_id
    left join users
        on updates.updated_by_user_id = users.user_id
    where updates.has_changed

)

select * from final
