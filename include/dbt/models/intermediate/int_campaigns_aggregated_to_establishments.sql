with

campaigns as (

    select * from {{ ref('stg_production__campaigns') }}

),

final as (

    select
        establishment_id,
        count(*) as campaigns_created_count,
        count(validated_at) as campaigns_validated_count,
        count(sent_at) as campaigns_sent_count,
        min(created_at) as first_campaign_created_at

    from campaigns
    group by establishment_id

)

select * from final
