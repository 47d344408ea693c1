with

source as (

    select * from {{ source('production', 'owner_notes') }}

),

renamed as (

    select
        note_id,
        owner_id

    from source

)

select * from renamed
