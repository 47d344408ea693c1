with

source as (

    select * from {{ source('production', 'events') }}

),

payloads as (

    -- Only the keys production_tables.yml keeps per event type reach the raw copy; of those, the
    -- status, sub-status and occupancy are read here, as production wrote them.
    select
        id as event_id,
        type as event_type,
        {{ payload_text('next_old', 'status') }} as old_status_form,
        {{ payload_text('next_new', 'status') }} as new_status_form,
        {{ payload_text('next_old', 'subStatus') }} as old_sub_status,
        {{ payload_text('next_new', 'subStatus') }} as new_sub_status,
        {{ payload_text('next_old', 'occupancy') }} as old_occupancy,
        {{ payload_text('next_new', 'occupancy') }} as new_occupancy,
        {{ payload_text('next_new', 'occupancyIntended') }} as new_occupancy_intended,
        created_at,
        created_by as created_by_user_id

    from source

),

mapped as (

    select
        *,
        {{ housing_status_code('old_status_form') }} as old_status,
        {{ housing_status_code('new_status_form') }} as new_status,
        coalesce(
            {{ housing_sub_status_code('old_sub_status') }},
            {{ housing_status_implied_sub_status('old_status_form') }}
        ) as old_sub_status_code,
        coalesce(
            {{ housing_sub_status_code('new_sub_status') }},
            {{ housing_status_implied_sub_status('new_status_form') }}
        ) as new_sub_status_code

    from payloads

)

select
    event_id,
    event_type,
    old_status_form,
    new_status_form,
    old_status,
    new_status,
    old_sub_status,
    new_sub_status,
    old_sub_status_code,
    new_sub_status_code,
    old_occupancy,
    new_occupancy,
    new_occupancy_intended,
    created_at,
    created_by_user_id

from mapped
