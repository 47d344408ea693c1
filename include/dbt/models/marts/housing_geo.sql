with

housing as (

    select * from {{ ref('stg_production__housing') }}

),

final as (

    -- no identifier of the dwelling beyond ZLV's internal uuid: no local_id, address or owner
    select
        housing_id,
        geo_code,
        longitude,
        latitude,
        housing_kind,
        status,
        vacancy_start_year

    from housing

)

select * from final
