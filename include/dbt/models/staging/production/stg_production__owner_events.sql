with

source as (

    select * from {{ source('production', 'owner_events') }}

),

renamed as (

    select
        event_id,
        owner_id

    from source

)

select * from renamed
