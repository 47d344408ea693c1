-- A funnel narrows: contacted <= in campaigns, answered <= contacted, exited <= contacted, for each
-- établissement and each département.
select 'establishment' as grain, establishment_id::varchar as grain_key
from {{ ref('campaign_funnel') }}
where housing_contacted_count > housing_in_campaigns_count
    or housing_answered_count > housing_contacted_count
    or housing_exited_count > housing_contacted_count

union all

select 'departement', departement_code
from {{ ref('campaign_funnel_by_territory') }}
where housing_contacted_count > housing_in_campaigns_count
    or housing_answered_count > housing_contacted_count
    or housing_exited_count > housing_contacted_count
