-- The campaign funnel per département of the housing (whichever établissement ran the campaign):
-- housing in campaigns -> contacted -> answered -> left vacancy.
with

campaign_housing as (

    select * from {{ ref('int_campaign_housing_followup') }}

),

located as (

    select
        {{ territory_columns('campaign_housing.housing_geo_code') }},
        campaign_housing.*

    from campaign_housing
    {{ territory_join('campaign_housing.housing_geo_code') }}

),

final as (

    select
        departement_code,
        max(departement_name) as departement_name,
        max(region_code) as region_code,
        count(distinct campaign_id) as campaigns_count,
        count(distinct campaign_id) filter (where campaign_sent_at is not null) as campaigns_sent_count,
        count(distinct establishment_id) as establishments_count,
        count(distinct housing_id) as housing_in_campaigns_count,
        count(distinct housing_id) filter (where is_contacted) as housing_contacted_count,
        count(distinct housing_id) filter (where has_answered) as housing_answered_count,
        count(distinct housing_id) filter (where has_exited_vacancy) as housing_exited_count

    from located
    group by departement_code

)

select * from final
