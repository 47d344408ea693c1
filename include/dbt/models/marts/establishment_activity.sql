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

perimeter_counts as (

    select establishment_id, count(*) as perimeters_count
    from {{ ref('stg_production__geo_perimeters') }}
    group by establishment_id

),

followup_updates as (

    select updated_by_establishment_id as establishment_id, count(*) as followup_updates_count
    from {{ ref('int_housing_followup_updates') }}
    where updated_by_establishment_id is not null
    group by updated_by_establishment_id

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
            where {{ connected_within_days('users.last_authenticated_at', 'reference_time.activity_reference_at', 30) }}
        ) as users_active_30d_count,
        count(*) filter (
            where {{ connected_within_days('users.last_authenticated_at', 'reference_time.activity_reference_at', 90) }}
        ) as users_active_90d_count,
        max(users.last_authenticated_at) as last_authenticated_at,
        min(users.activated_at) as first_user_activated_at

    from users
    cross join reference_time
    where
        not users.is_deleted
        and users.establishment_id is not null
    group by users.establishment_id

),

counted as (

    select
        establishments.establishment_id,
        establishments.establishment_name,
        establishments.establishment_kind,
        establishments.is_available,
        coalesce(user_counts.users_count, 0) as users_count,
        coalesce(user_counts.users_active_30d_count, 0) as users_active_30d_count,
        coalesce(user_counts.users_active_90d_count, 0) as users_active_90d_count,
        user_counts.first_user_activated_at,
        user_counts.last_authenticated_at,
        coalesce(campaign_counts.campaigns_created_count, 0) as campaigns_created_count,
        coalesce(campaign_counts.campaigns_sent_count, 0) as campaigns_sent_count,
        coalesce(group_counts.groups_count, 0) as groups_count,
        coalesce(group_counts.grouped_housing_count, 0) as grouped_housing_count,
        campaign_counts.first_campaign_created_at,
        date_diff(
            'day', user_counts.first_user_activated_at, campaign_counts.first_campaign_created_at
        ) as days_to_first_campaign,
        coalesce(perimeter_counts.perimeters_count, 0) as perimeters_count,
        coalesce(followup_updates.followup_updates_count, 0) as followup_updates_count,
        {% for days in [30, 60, 90] %}
        {{ connected_within_days('user_counts.last_authenticated_at', 'reference_time.activity_reference_at', days) }}
            as is_connected_{{ days }}d,
        {% endfor %}
        reference_time.activity_reference_at

    from establishments
    cross join reference_time
    left join user_counts
        on establishments.establishment_id = user_counts.establishment_id
    left join campaign_counts
        on establishments.establishment_id = campaign_counts.establishment_id
    left join group_counts
        on establishments.establishment_id = group_counts.establishment_id
    left join perimeter_counts
        on establishments.establishment_id = perimeter_counts.establishment_id
    left join followup_updates
        on establishments.establishment_id = followup_updates.establishment_id

),

final as (

    select
        *,
        perimeters_count > 0 as has_drawn_perimeter,
        groups_count > 0 as has_created_group,
        campaigns_created_count > 0 as has_created_campaign,
        campaigns_sent_count > 0 as has_sent_campaign,
        followup_updates_count > 0 as has_updated_followup,
        {{ activation_level('groups_count', 'campaigns_created_count', 'campaigns_sent_count') }} as activation_level,
        {{ activation_typology('groups_count', 'campaigns_created_count', 'campaigns_sent_count', 'followup_updates_count > 0', 'is_connected_60d') }}
            as activation_typology

    from counted

)

select * from final
