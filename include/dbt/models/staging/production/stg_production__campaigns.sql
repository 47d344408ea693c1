with

source as (

    select * from {{ source('production', 'campaigns') }}

),

renamed as (

    -- `title` is free text typed by agents (sometimes an owner's name): only its length reaches
    -- the warehouse; `filters` is left out here (the ingestion keeps only its non-free-text keys)
    select
        id as campaign_id,
        establishment_id,
        user_id as created_by_user_id,
        group_id,
        title_length as campaign_title_length,
        lower(trim(status)) as campaign_status,
        created_at,
        validated_at,
        exported_at,
        sent_at,
        archived_at

    from source

)

select * from renamed
