-- Every code of a former or sub-municipal commune our sources may carry, with its current commune.
with

passage as (

    select * from {{ source('referential', 'commune_passage') }}

),

final as (

    select
        code,
        current_code as commune_code,
        passage_kind

    from passage

)

select * from final
