with

source as (

    select * from {{ source('production', 'notes') }}

),

renamed as (

    -- `content` is free text quoting owners: only derived values reach the warehouse
    select
        id as note_id,
        note_kind,
        contact_kind_deprecated,
        content_length,
        content_has_phone,
        content_has_email,
        created_by as created_by_user_id,
        created_at,
        updated_at,
        deleted_at,
        -- soft delete: production sets deleted_at and keeps the row
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
