-- ZLV's production schema as the warehouse meets it: the 19 tables ZLV's own warehouse copies plus
-- `localities`, with the real keys, types, arrays, PostGIS columns, the generated tsvector of the
-- owners' names, the two-factor columns and `fast_housing` partitioned by département.
-- Written for this project from the facts of ZLV's public migrations and live types
-- (server/src/infra/database/migrations/, db.d.ts; ../shared/DOMAIN.md). Recreated on every demo run.
create extension if not exists postgis;

create table localities (
    id uuid primary key,
    geo_code varchar(5) not null unique,
    name text not null,
    locality_kind text,
    tax_kind text not null default 'None',
    tax_rate double precision
);

create table establishments (
    id uuid primary key,
    name text not null,
    siren integer,
    siret text,
    kind text not null,
    kind_admin text,
    kind_admin_meta text,
    layer_geo_label text,
    localities_geo_code text[],
    dep_code text[],
    dep_name text,
    reg_code text[],
    reg_name text,
    millesime text,
    source text not null default 'seed',
    available boolean not null default false,
    updated_at timestamptz not null default now(),
    deleted_at timestamptz,
    suspended_at timestamptz,
    suspended_cause text
);

create table users (
    id uuid primary key,
    email text not null unique,
    password text,
    first_name text,
    last_name text,
    phone text,
    position text,
    time_per_week text,
    kind text,
    establishment_id uuid references establishments (id),
    role integer not null,
    activated_at timestamptz not null default now(),
    last_authenticated_at timestamptz,
    suspended_at timestamptz,
    suspended_cause text,
    deleted_at timestamptz,
    updated_at timestamptz not null default now(),
    two_factor_secret text,
    two_factor_enabled_at timestamptz,
    two_factor_code text,
    two_factor_code_generated_at timestamptz,
    two_factor_failed_attempts integer not null default 0,
    two_factor_locked_until timestamptz
);

create table buildings (
    id text primary key,
    housing_count integer not null,
    vacant_housing_count integer not null,
    rent_housing_count integer,
    rnb_id text,
    rnb_id_score integer,
    rnb_footprint integer,
    class_dpe text,
    class_ges text,
    dpe_id text,
    dpe_date_at date,
    dpe_type text,
    dpe_import_match text,
    heating_building text
);

-- One partition per département (98): 01-19, 2A, 2B, 21-95, the overseas départements 97x
-- (971-976 share one) and the overseas collectivités 98x.
create table fast_housing (
    id uuid not null,
    invariant text not null,
    local_id text not null,
    building_id text,
    building_group_id text,
    building_location text,
    plot_id text,
    geo_code varchar(5) not null,
    address_dgfip text[] not null,
    longitude_dgfip double precision,
    latitude_dgfip double precision,
    geolocation geometry(Point, 4326),
    geolocation_source text,
    cadastral_classification integer,
    cadastral_reference text,
    uncomfortable boolean not null default false,
    vacancy_start_year integer,
    housing_kind text not null,
    rooms_count integer,
    living_area double precision,
    building_year integer,
    mutation_date date,
    last_mutation_date timestamptz,
    last_transaction_date timestamptz,
    last_transaction_value integer,
    last_mutation_type text generated always as (
        case
            when last_transaction_date is null then null
            when last_mutation_date is null or last_transaction_date >= last_mutation_date then 'sale'
            else 'donation'
        end
    ) stored,
    taxed boolean,
    rental_value integer,
    condominium text,
    beneficiary_count integer,
    data_years integer[] not null default '{}',
    data_file_years text[],
    data_source text,
    status integer not null default 0,
    sub_status text,
    occupancy text not null,
    occupancy_source text not null default 'L',
    occupancy_intended text,
    occupancy_history text,
    energy_consumption_bdnb text,
    energy_consumption_at_bdnb timestamptz,
    actual_dpe text,
    plot_area integer,
    primary key (geo_code, id)
) partition by range (geo_code);
do $$
declare
    dep text;
begin
    foreach dep in array array(
        select lpad(n::text, 2, '0') from generate_series(1, 19) n
        union all select unnest(array['2A', '2B'])
        union all select n::text from generate_series(21, 95) n
        union all select unnest(array['97', '98'])
    ) loop
        execute format(
            'create table %I partition of fast_housing for values from (%L) to (%L)',
            'fast_housing_' || lower(dep), dep || '000', dep || '999'
        );
    end loop;
end $$;
create unique index fast_housing_local_id_idx on fast_housing (geo_code, local_id);

create table owners (
    id uuid primary key,
    idpersonne text,
    full_name text not null,
    -- generated from the names: personal data although nobody writes it
    full_name_fts tsvector generated always as (to_tsvector('simple', lower(full_name))) stored,
    administrator text,
    username text,
    birth_date timestamp,
    siren text,
    address_dgfip text[],
    additional_address text,
    email text,
    phone text,
    kind_class text,
    entity text,
    data_source text,
    is_multi_owner boolean,
    do_not_contact boolean not null default false,
    created_at timestamptz,
    updated_at timestamptz
);

create table owners_housing (
    owner_id uuid not null references owners (id) on delete cascade,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    rank integer,
    start_date date,
    end_date date,
    origin text,
    idprocpte text,
    idprodroit text,
    property_right text,
    locprop_source text,
    locprop_relative_ban integer,
    locprop_distance_ban integer,
    primary key (owner_id, housing_id, housing_geo_code),
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

create table groups (
    id uuid primary key,
    title text not null,
    description text not null,
    user_id uuid not null references users (id),
    establishment_id uuid not null references establishments (id),
    created_at timestamptz not null,
    exported_at timestamptz,
    archived_at timestamptz,
    housing_count integer not null default 0,
    owner_count integer not null default 0
);

create table groups_housing (
    group_id uuid not null references groups (id) on delete cascade,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    primary key (group_id, housing_id, housing_geo_code),
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

create table campaigns (
    id uuid primary key,
    title text not null,
    description text,
    status text not null,
    filters jsonb,
    file text,
    user_id uuid not null references users (id),
    establishment_id uuid not null references establishments (id),
    group_id uuid references groups (id),
    created_at timestamptz default now(),
    validated_at timestamptz,
    confirmed_at timestamptz,
    exported_at timestamptz,
    sent_at timestamptz,
    archived_at timestamptz,
    housing_count integer not null default 0,
    owner_count integer not null default 0,
    return_count integer not null default 0,
    return_rate double precision,
    recovery_id text,
    campaign_number_deprecated integer,
    kind_deprecated integer,
    reminder_number_deprecated integer,
    start_month_deprecated text
);

create table campaigns_housing (
    campaign_id uuid not null references campaigns (id) on delete cascade,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    advice text,
    primary key (campaign_id, housing_id, housing_geo_code),
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

create table events (
    id uuid primary key,
    type text not null,
    next_old jsonb,
    next_new jsonb,
    created_at timestamptz not null default now(),
    created_by uuid not null references users (id)
);

create table housing_events (
    event_id uuid primary key references events (id) on delete cascade,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

create table owner_events (
    event_id uuid primary key references events (id) on delete cascade,
    owner_id uuid not null references owners (id) on delete cascade
);

create table group_housing_events (
    event_id uuid primary key references events (id) on delete cascade,
    group_id uuid references groups (id) on delete set null,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

-- Documents live in a table the warehouse does not copy: no foreign key on document_id.
create table housing_document_events (
    event_id uuid primary key references events (id) on delete cascade,
    document_id uuid not null,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

create table geo_perimeters (
    id uuid primary key,
    establishment_id uuid references establishments (id),
    name text,
    kind text,
    geom geometry(MultiPolygon, 4326),
    created_at timestamptz default now(),
    created_by uuid references users (id)
);

-- Soft delete sets deleted_at without touching updated_at.
create table notes (
    id uuid primary key,
    content text not null,
    note_kind text not null default 'Note courante',
    created_by uuid references users (id),
    created_at timestamptz default now(),
    updated_at timestamptz,
    deleted_at timestamptz,
    title_deprecated text,
    contact_kind_deprecated text
);

create table housing_notes (
    note_id uuid not null references notes (id) on delete cascade,
    housing_id uuid not null,
    housing_geo_code varchar(5) not null,
    primary key (note_id, housing_id, housing_geo_code),
    foreign key (housing_geo_code, housing_id) references fast_housing (geo_code, id) on delete cascade
);

-- No key in production.
create table owner_notes (
    note_id uuid not null references notes (id) on delete cascade,
    owner_id uuid not null references owners (id) on delete cascade
);
