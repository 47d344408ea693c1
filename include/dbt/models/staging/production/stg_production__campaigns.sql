with

source as (

    select * from {{ source('production', 'campaigns') }}

),

renamed as (

    -- `filters` is left out: the saved search can hold free text typed by agents (owner names)
    select
        id as campaign_id,
        establishment_id,
        user_id as created_by_user_id,
        group_id,
        title as campaign_title,
        lower(trim(status)) as campaign_status,
        created_at,
        validated_at,
        exported_at,
        sent_at,
        archived_at

    from source

)

select * from renamed
