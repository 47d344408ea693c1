with

source as (

    select * from {{ source('production', 'users') }}

),

renamed as (

    select
        id as user_id,
        establishment_id,
        -- keyed hash computed by the ingestion: joins accounts across copies, never reversible here
        email as email_hash,
        -- `position` is free text (people type their phone there): only derived values are copied
        position_length,
        position_has_phone,
        role,
        case role
            when 0 then 'user'
            when 1 then 'admin'
            when 2 then 'visitor'
        end as role_label,
        activated_at,
        last_authenticated_at,
        suspended_at,
        deleted_at,
        updated_at,
        deleted_at is not null as is_deleted

    from source

)

select * from renamed
