-- One row per housing group: who made it and when, its dwellings, and the campaigns made from it
-- (sent or not) - the groups section of "Analyse de la lutte contre la vacance".
with

groups as (

    select * from {{ ref('stg_production__groups') }}

),

groups_housing as (

    select group_id, count(distinct housing_id) as housing_count
    from {{ ref('stg_production__groups_housing') }}
    group by group_id

),

campaigns as (

    select
        group_id,
        count(*) as campaigns_count,
        count(*) filter (where sent_at is not null) as campaigns_sent_count,
        min(created_at) as first_campaign_created_at

    from {{ ref('stg_production__campaigns') }}
    where group_id is not null
    group by group_id

),

final as (

    select
        groups.group_id,
        groups.establishment_id,
        groups.created_at,
        groups.exported_at,
        groups.archived_at,
        groups.is_archived,
        coalesce(groups_housing.housing_count, 0) as housing_count,
        coalesce(campaigns.campaigns_count, 0) as campaigns_count,
        coalesce(campaigns.campaigns_sent_count, 0) as campaigns_sent_count,
        date_diff('day', groups.created_at, campaigns.first_campaign_created_at) as days_to_first_campaign

    from groups
    left join groups_housing
        on groups.group_id = groups_housing.group_id
    left join campaigns
        on groups.group_id = campaigns.group_id

)

select * from final
