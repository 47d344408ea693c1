-- Reconciliation: enrichment joins must neither drop nor duplicate housing.
with

staged as (

    select count(*) as housing_count from {{ ref('stg_production__housing') }}

),

enriched as (

    select count(*) as housing_count from {{ ref('int_housing_enriched') }}

)

select
    staged.housing_count as staged_housing_count,
    enriched.housing_count as enriched_housing_count

from staged
cross join enriched
where staged.housing_count <> enriched.housing_count
