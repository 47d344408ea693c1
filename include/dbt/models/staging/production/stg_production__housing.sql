with

source as (

    select * from {{ source('production', 'fast_housing') }}

),

renamed as (

    select
        -- ids
        id as housing_id,
        local_id,
        invariant,
        geo_code,
        building_id,
        plot_id,

        -- location
        longitude_dgfip as longitude,
        latitude_dgfip as latitude,
        -- PostGIS point (DuckDB GEOMETRY), its SRID travels in geolocation_srid (4326, WGS 84)
        geolocation,
        geolocation_srid,

        -- characteristics
        upper(trim(housing_kind)) as housing_kind,
        rooms_count,
        living_area,
        building_year,
        cadastral_classification,
        uncomfortable as is_uncomfortable,
        condominium,
        energy_consumption_bdnb,
        rental_value,
        upper(trim(occupancy)) as occupancy,

        -- vacancy and transactions
        vacancy_start_year,
        taxed as is_taxed,
        mutation_date,
        last_transaction_value,
        data_file_years,

        -- follow-up
        status,
        {{ housing_status_label('status') }} as status_label,
        sub_status,
        {{ housing_sub_status_code('sub_status') }} as sub_status_code,
        {{ is_exit_from_vacancy('status', housing_sub_status_code('sub_status')) }} as has_exited_vacancy

    from source

)

select * from renamed
