with

source as (

    select * from {{ source('production', 'groups') }}

),

renamed as (

    -- `title` is free text typed by agents: only derived values reach the warehouse;
    -- `description` (free text) is never copied
    select
        id as group_id,
        establishment_id,
        user_id as created_by_user_id,
        title_length as group_title_length,
        title_has_phone as group_title_has_phone,
        title_has_email as group_title_has_email,
        housing_count,
        owner_count,
        created_at,
        exported_at,
        archived_at,
        archived_at is not null as is_archived

    from source

)

select * from renamed
