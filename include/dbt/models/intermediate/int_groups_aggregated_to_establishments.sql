-- One row per établissement that saved housing groups: its groups still in use (not archived) and
-- the distinct dwellings they hold (a dwelling in two groups counts once).
with

groups as (

    select * from {{ ref('stg_production__groups') }}
    where not is_archived

),

groups_housing as (

    select * from {{ ref('stg_production__groups_housing') }}

),

final as (

    select
        groups.establishment_id,
        count(distinct groups.group_id) as groups_count,
        count(distinct groups_housing.housing_id) as grouped_housing_count

    from groups
    left join groups_housing
        on groups.group_id = groups_housing.group_id
    where groups.establishment_id is not null
    group by groups.establishment_id

)

select * from final
