-- Reconciliation: the running totals of the month spine end on the counts of the sources (what
-- happened from January 2020 to this month), so no month is lost or counted twice.
with

last_month as (

    select * from {{ ref('monthly_statistics') }}
    qualify row_number() over (order by month_start desc) = 1

),

expected as (

    select
        (select count(*) from {{ ref('stg_production__campaigns') }}
         where created_at >= date '2020-01-01' and created_at < date_trunc('month', current_date) + interval 1 month)
            as campaigns_created,
        (select count(*) from {{ ref('stg_production__campaigns') }}
         where sent_at >= date '2020-01-01' and sent_at < date_trunc('month', current_date) + interval 1 month)
            as campaigns_sent,
        (select count(*) from {{ ref('stg_production__users') }}
         where not is_deleted and activated_at >= date '2020-01-01'
             and activated_at < date_trunc('month', current_date) + interval 1 month)
            as users_signed_up

)

select last_month.*, expected.*
from last_month
cross join expected
where
    last_month.cumulative_campaigns_created_count <> expected.campaigns_created
    or last_month.cumulative_campaigns_sent_count <> expected.campaigns_sent
    or last_month.cumulative_users_signed_up_count <> expected.users_signed_up
