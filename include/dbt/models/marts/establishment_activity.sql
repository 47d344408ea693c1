with

establishments as (

    select * from {{ ref('stg_production__establishments') }}

),

users as (

    select * from {{ ref('stg_production__users') }}

),

campaign_counts as (

    select * from {{ ref('int_campaigns_aggregated_to_establishments') }}

),

group_counts as (

    select * from {{ ref('int_groups_aggregated_to_establishments') }}

),

-- "now" for activity windows: the last sign-in in the data, so a replayed or late copy gives the
-- same figures; current time when nobody ever signed in
reference_time as (

    select coalesce(max(last_authenticated_at), current_timestamp) as activity_reference_at
    from users

),

user_counts as (

    select
        users.establishment_id,
        count(*) as users_count,
        count(*) filter (
            where users.last_authenticated_at >= reference_time.activity_reference_at - interval 30 day
        ) as users_active_30d_count,
        count(*) filter (
            where users.last_authenticated_at >= reference_time.activity_reference_at - interval 90 day
        ) as users_active_90d_count,
        min(users.activated_at) as first_user_activated_at

    from users
    cross join reference_time
    where
        not users.is_deleted
        and users.establishment_id is not null
    group by users.establishment_id

),

final as (

    select
        establishments.establishment_id,
        establishments.establishment_name,
        establishments.establishment_kind,
        establishments.is_available,
        coalesce(user_counts.users_count, 0) as users_count,
        coalesce(user_counts.users_active_30d_count, 0) as users_active_30d_count,
        coalesce(user_counts.users_active_90d_count, 0) as users_active_90d_count,
        user_counts.first_user_activated_at,
        coalesce(campaign_counts.campaigns_created_count, 0) as campaigns_created_count,
        coalesce(campaign_counts.campaigns_sent_count, 0) as campaigns_sent_count,
        coalesce(group_counts.groups_count, 0) as groups_count,
        coalesce(group_counts.grouped_housing_count, 0) as grouped_housing_count,
        campaign_counts.first_campaign_created_at,
        date_diff(
            'day', user_counts.first_user_activated_at, campaign_counts.first_campaign_created_at
        ) as days_to_first_campaign,
        reference_time.activity_reference_at

    from establishments
    cross join reference_time
    left join user_counts
        on establishments.establishment_id = user_counts.establishment_id
    left join campaign_counts
        on establishments.establishment_id = campaign_counts.establishment_id
    left join group_counts
        on establishments.establishment_id = group_counts.establishment_id

)

select * from final
