-- One row per person (FF idpersonne, pseudonymised at ingest), whether ZLV's owners table, the FF
-- owners file or both know them: the same keyed hash on both sides makes the match, no name is
-- ever compared in clear. Owners without an idpersonne keep their ZLV id as their key.
with

zlv_owners as (

    select * from {{ ref('stg_production__owners') }}

),

ff_owners as (

    select * from {{ ref('stg_ff__owners') }}

),

zlv_by_person as (

    select
        coalesce(idpersonne_hash, 'zlv:' || owner_id::varchar) as owner_key,
        count(*) as zlv_owner_records_count,
        min(owner_id::varchar) as first_zlv_owner_id,
        mode(kind_class) as kind_class

    from zlv_owners
    group by 1

),

ff_by_person as (

    select
        idpersonne_hash as owner_key,
        count(*) as ff_property_rights_count,
        max(ff_millesime) as latest_ff_millesime,
        mode(legal_person_group) as legal_person_group

    from ff_owners
    where idpersonne_hash is not null
    group by 1

),

final as (

    select
        coalesce(zlv_by_person.owner_key, ff_by_person.owner_key) as owner_key,
        zlv_by_person.first_zlv_owner_id,
        coalesce(zlv_by_person.zlv_owner_records_count, 0) as zlv_owner_records_count,
        coalesce(ff_by_person.ff_property_rights_count, 0) as ff_property_rights_count,
        zlv_by_person.owner_key is not null as is_in_zlv,
        ff_by_person.owner_key is not null as is_in_ff,
        coalesce(zlv_by_person.zlv_owner_records_count, 0) > 1 as has_zlv_duplicates,
        zlv_by_person.kind_class,
        ff_by_person.legal_person_group,
        ff_by_person.latest_ff_millesime

    from zlv_by_person
    full outer join ff_by_person
        on zlv_by_person.owner_key = ff_by_person.owner_key

)

select * from final
