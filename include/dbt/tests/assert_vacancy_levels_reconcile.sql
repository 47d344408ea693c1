-- Reconciliation: every level of the territorial hierarchy counts the same dwellings per
-- millésime as the LOVAC rows that could be located (a join that drops or duplicates rows shows here).
with

located as (

    select lovac_millesime, count(*) filter (where is_dwelling) as dwelling_count
    from {{ ref('int_lovac_housing_located') }}
    where commune_code is not null
    group by lovac_millesime

),

levels as (

    select territory_level, lovac_millesime, sum(dwelling_count) as dwelling_count
    from {{ ref('vacancy_by_territory') }}
    where territory_level in ('commune', 'departement')
    group by territory_level, lovac_millesime

)

select levels.*, located.dwelling_count as located_dwelling_count
from levels
inner join located
    on levels.lovac_millesime = located.lovac_millesime
where levels.dwelling_count <> located.dwelling_count
