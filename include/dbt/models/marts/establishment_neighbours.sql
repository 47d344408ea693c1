-- For each établissement, the other établissements signed up in ZLV (at least one user) whose
-- perimeter shares communes with its own - a commune, its EPCI, its département, the State's
-- services - with their activation: "Autres structures de votre territoire inscrites".
with

activity as (

    select * from {{ ref('establishment_activity') }}

),

communes as (

    select * from {{ ref('int_establishment_communes') }}

),

signed_up as (

    select communes.*
    from communes
    inner join activity
        on communes.establishment_id = activity.establishment_id
    where activity.users_count > 0

),

pairs as (

    select
        communes.establishment_id,
        signed_up.establishment_id as other_establishment_id,
        count(*) as shared_communes_count

    from communes
    inner join signed_up
        on communes.commune_code = signed_up.commune_code
        and communes.establishment_id <> signed_up.establishment_id
    group by all

),

final as (

    select
        pairs.establishment_id,
        pairs.other_establishment_id,
        other.establishment_name as other_establishment_name,
        other.establishment_kind as other_establishment_kind,
        pairs.shared_communes_count,
        other.users_count as other_users_count,
        other.is_connected_90d as other_is_connected_90d,
        other.campaigns_sent_count as other_campaigns_sent_count,
        other.activation_level as other_activation_level

    from pairs
    inner join activity as other
        on pairs.other_establishment_id = other.establishment_id

)

select * from final
