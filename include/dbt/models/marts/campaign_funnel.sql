with

establishments as (

    select * from {{ ref('stg_production__establishments') }}

),

campaign_counts as (

    select * from {{ ref('int_campaigns_aggregated_to_establishments') }}

),

campaign_housing as (

    select * from {{ ref('int_campaign_housing_followup') }}

),

-- a housing in several campaigns of an establishment counts once
housing_counts as (

    select
        establishment_id,
        count(distinct housing_id) as housing_in_campaigns_count,
        count(distinct housing_id) filter (where is_contacted) as housing_contacted_count,
        count(distinct housing_id) filter (where has_answered) as housing_answered_count,
        count(distinct housing_id) filter (where has_exited_vacancy) as housing_exited_count

    from campaign_housing
    group by establishment_id

),

final as (

    select
        establishments.establishment_id,
        establishments.establishment_name,
        establishments.establishment_kind,
        coalesce(campaign_counts.campaigns_created_count, 0) as campaigns_created_count,
        coalesce(campaign_counts.campaigns_validated_count, 0) as campaigns_validated_count,
        coalesce(campaign_counts.campaigns_sent_count, 0) as campaigns_sent_count,
        coalesce(housing_counts.housing_in_campaigns_count, 0) as housing_in_campaigns_count,
        coalesce(housing_counts.housing_contacted_count, 0) as housing_contacted_count,
        coalesce(housing_counts.housing_answered_count, 0) as housing_answered_count,
        coalesce(housing_counts.housing_exited_count, 0) as housing_exited_count

    from establishments
    left join campaign_counts
        on establishments.establishment_id = campaign_counts.establishment_id
    left join housing_counts
        on establishments.establishment_id = housing_counts.establishment_id

)

select * from final
