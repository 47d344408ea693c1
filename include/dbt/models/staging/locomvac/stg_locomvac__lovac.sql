with

source as (

    select * from {{ source('locomvac', 'lovac') }}

),

renamed as (

    select
        -- ids
        millesime as lovac_millesime,
        ff_idlocal as local_id,
        invariant,
        -- ccodep is two characters, '97' overseas (La Réunion: '97' + '411'), as ZLV reads it:
        -- the département comes from the commune code, never from ccodep alone
        {{ departement_of_commune("left(lpad(upper(trim(ccodep)), 2, '0'), 2) || lpad(trim(commune), 3, '0')") }} as departement_code,
        left(lpad(upper(trim(ccodep)), 2, '0'), 2) || lpad(trim(commune), 3, '0') as commune_code,

        -- years
        annee as data_year,
        ff_millesime,

        -- dwelling
        groupe as owner_group,
        upper(trim(aff)) as assignment_code,
        upper(trim(nature)) as housing_kind,
        debutvacance as vacancy_start_year,
        vlcad as cadastral_rental_value,
        upper(trim(ff_ccthp)) as occupancy,
        ff_stoth as living_area,
        ff_npiece_p2 as rooms_count,
        ff_jannath as building_year,
        ban_latitude as latitude,
        ban_longitude as longitude,

        -- owners (keyed hashes of the FF person ids)
        ff_idpersonne_1 as owner_1_idpersonne_hash,
        ff_idpersonne_2 as owner_2_idpersonne_hash,

        _source_key as source_key

    from source

),

flagged as (

    select
        *,
        coalesce(assignment_code = 'H', false) as is_dwelling,
        {{ is_lovac_housing('assignment_code', 'housing_kind') }} as is_housing,
        coalesce(occupancy = 'V', false) as is_vacant,
        {{ is_private_owner_group('owner_group') }} as is_private,
        {{ is_fil('assignment_code', 'housing_kind', 'owner_group', 'vacancy_start_year', 'data_year') }} as is_fil
    from renamed

),

final as (

    select
        *,
        {{ is_fil_ccthp('is_fil', 'occupancy') }} as is_fil_ccthp
    from flagged

)

select * from final
