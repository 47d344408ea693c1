with

campaigns_housing as (

    select * from {{ ref('stg_production__campaigns_housing') }}

),

campaigns as (

    select * from {{ ref('stg_production__campaigns') }}

),

housing as (

    select * from {{ ref('stg_production__housing') }}

),

milestones as (

    select * from {{ ref('int_housing_status_milestones') }}

),

final as (

    select
        campaigns_housing.campaign_id,
        campaigns_housing.housing_id,
        campaigns.establishment_id,
        campaigns.campaign_status,
        campaigns.created_at as campaign_created_at,
        campaigns.validated_at as campaign_validated_at,
        campaigns.sent_at as campaign_sent_at,
        campaigns.archived_at as campaign_archived_at,
        campaigns_housing.housing_geo_code,
        housing.status as current_status,
        housing.status_label as current_status_label,
        -- the current status, or the history when the housing went further and came back
        coalesce(housing.status >= 2 or milestones.first_contacted_at is not null, false) as is_contacted,
        coalesce(housing.status in (3, 4) or milestones.first_answered_at is not null, false) as has_answered,
        coalesce(housing.has_exited_vacancy or milestones.exited_vacancy_at is not null, false) as has_exited_vacancy

    from campaigns_housing
    inner join campaigns
        on campaigns_housing.campaign_id = campaigns.campaign_id
    left join housing
        on campaigns_housing.housing_id = housing.housing_id
    left join milestones
        on campaigns_housing.housing_id = milestones.housing_id

)

select * from final
