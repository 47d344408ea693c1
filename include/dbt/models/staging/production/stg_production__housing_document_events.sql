with

source as (

    select * from {{ source('production', 'housing_document_events') }}

),

renamed as (

    -- the documents themselves are not copied: document_id points outside the warehouse
    select
        event_id,
        document_id,
        housing_id,
        housing_geo_code

    from source

)

select * from renamed
