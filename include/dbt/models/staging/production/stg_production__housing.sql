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
        sub_status

    from source

)

select * from renamed
