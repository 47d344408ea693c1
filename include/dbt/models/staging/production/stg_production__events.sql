with

source as (

    select * from {{ source('production', 'events') }}

),

renamed as (

    -- Only the status is read from the JSON payloads: the rest may quote people.
    select
        id as event_id,
        type as event_type,
        {{ housing_status_from_json('next_old') }} as old_status,
        {{ housing_status_from_json('next_new') }} as new_status,
        created_at,
        created_by as created_by_user_id

    from source

)

select * from renamed
