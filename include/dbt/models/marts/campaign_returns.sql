-- One row per campaign: its lifecycle, the dwellings and owners in it, the returns (follow-up
-- updates of its dwellings) within 3, 6, 9 and 36 months of sending and their rates, and the
-- delay to the établissement's next sent campaign ("Analyse de la lutte contre la vacance").
with

campaigns as (

    select * from {{ ref('stg_production__campaigns') }}

),

campaigns_housing as (

    select * from {{ ref('stg_production__campaigns_housing') }}

),

owners_housing as (

    select * from {{ ref('stg_production__owners_housing') }}

),

updates as (

    select * from {{ ref('int_housing_followup_updates') }}

),

housing_counts as (

    select
        campaigns_housing.campaign_id,
        count(distinct campaigns_housing.housing_id) as housing_count,
        count(distinct owners_housing.owner_id) as main_owners_count

    from campaigns_housing
    left join owners_housing
        on campaigns_housing.housing_id = owners_housing.housing_id
        and owners_housing.owner_rank = 1
    group by campaigns_housing.campaign_id

),

returns as (

    select
        campaigns.campaign_id,
        {% for months in campaign_return_windows() %}
        count(distinct updates.housing_id) filter (
            where {{ is_campaign_return('updates.updated_at', 'campaigns.sent_at', months) }}
        ) as return_{{ months }}_months_count{% if not loop.last %},{% endif %}
        {% endfor %}

    from campaigns
    inner join campaigns_housing
        on campaigns.campaign_id = campaigns_housing.campaign_id
    inner join updates
        on campaigns_housing.housing_id = updates.housing_id
    where campaigns.sent_at is not null
    group by campaigns.campaign_id

),

final as (

    select
        campaigns.campaign_id,
        campaigns.establishment_id,
        campaigns.group_id,
        campaigns.campaign_status,
        campaigns.created_at,
        campaigns.validated_at,
        campaigns.exported_at as confirmed_at,
        campaigns.sent_at,
        campaigns.archived_at,
        campaigns.sent_at is not null as is_sent,
        coalesce(housing_counts.housing_count, 0) as housing_count,
        coalesce(housing_counts.main_owners_count, 0) as main_owners_count,
        {% for months in campaign_return_windows() %}
        -- a sent campaign with no return has 0, an unsent one NULL
        case when campaigns.sent_at is not null then coalesce(returns.return_{{ months }}_months_count, 0) end
            as return_{{ months }}_months_count,
        case when campaigns.sent_at is not null then
            {{ percent_of('coalesce(returns.return_' ~ months ~ '_months_count, 0)', 'housing_counts.housing_count') }}
        end as return_{{ months }}_months_rate,
        {% endfor %}
        date_diff(
            'day',
            campaigns.sent_at,
            lead(campaigns.sent_at) over (
                partition by campaigns.establishment_id, campaigns.sent_at is not null
                order by campaigns.sent_at, campaigns.campaign_id
            )
        ) as days_to_next_sent_campaign

    from campaigns
    left join housing_counts
        on campaigns.campaign_id = housing_counts.campaign_id
    left join returns
        on campaigns.campaign_id = returns.campaign_id

)

select * from final
