with

source as (

    select * from {{ source('ff', 'ff_housing') }}

),

renamed as (

    select
        -- ids
        millesime as ff_millesime,
        idlocal as local_id,
        idbat as building_id,
        idpar as plot_id,
        idcom as commune_code,

        -- dwelling
        dteloc as local_type,
        case dteloc
            when 1 then 'MAISON'
            when 2 then 'APPART'
        end as housing_kind,
        upper(trim(ccthp)) as occupancy,
        coalesce(upper(trim(ccthp)) = 'V', false) as is_vacant,
        jannath as building_year,
        stoth as living_area,
        npiece_p2 as rooms_count,
        loghvac as vacancy_indicator,

        -- ownership
        ndroit as property_rights_count,
        catpro3 as owner_category,

        _source_key as source_key

    from source

)

select * from renamed
