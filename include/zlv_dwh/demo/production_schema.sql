-- A ZLV-like production schema for the demo: the tables and personal-data columns of
-- ../shared/DOMAIN.md, reduced to what the warehouse reads. Recreated on every demo run.
create table localities (
    geo_code char(5) primary key,
    name text not null,
    locality_kind text,
    tax_kind text
);
create table establishments (
    id uuid primary key,
    name text not null,
    siren bigint,
    kind text not null,
    localities_geo_code text[] not null,
    dep_code text,
    reg_code text,
    available boolean not null default true,
    updated_at timestamptz,
    deleted_at timestamptz
);
create table users (
    id uuid primary key,
    email text not null unique,
    password text not null,
    first_name text,
    last_name text,
    phone text,
    position text,
    establishment_id uuid references establishments(id),
    role int not null,
    activated_at timestamptz,
    last_authenticated_at timestamptz,
    suspended_at timestamptz,
    deleted_at timestamptz,
    updated_at timestamptz,
    two_factor_code text,
    two_factor_sent_at timestamptz
);
create table fast_housing (
    id uuid primary key,
    local_id text not null unique,
    invariant text not null,
    geo_code char(5) not null,
    building_id text,
    plot_id text,
    address_dgfip text[],
    longitude_dgfip double precision,
    latitude_dgfip double precision,
    cadastral_classification int,
    uncomfortable boolean,
    vacancy_start_year int,
    housing_kind text,
    rooms_count int,
    living_area numeric(8, 2),
    building_year int,
    mutation_date date,
    last_transaction_value bigint,
    taxed boolean,
    data_file_years text[],
    rental_value int,
    condominium text,
    status int not null default 0,
    sub_status text,
    occupancy text,
    energy_consumption_bdnb text
);
create table owners (
    id uuid primary key,
    idpersonne text,
    full_name text not null,
    birth_date date,
    administrator text,
    siren text,
    address_dgfip text[],
    additional_address text,
    email text,
    phone text,
    kind_class text,
    entity text,
    data_source text,
    created_at timestamptz,
    updated_at timestamptz
);
create table owners_housing (
    owner_id uuid not null references owners(id),
    housing_id uuid not null references fast_housing(id),
    housing_geo_code char(5) not null,
    rank int not null,
    start_date date,
    end_date date,
    origin text,
    idprocpte text,
    idprodroit text,
    property_right text,
    primary key (owner_id, housing_id)
);
create table campaigns (
    id uuid primary key,
    title text not null,
    status text not null,
    filters jsonb,
    user_id uuid references users(id),
    establishment_id uuid not null references establishments(id),
    group_id uuid,
    created_at timestamptz not null,
    validated_at timestamptz,
    exported_at timestamptz,
    sent_at timestamptz,
    archived_at timestamptz
);
create table campaigns_housing (
    campaign_id uuid not null references campaigns(id),
    housing_id uuid not null references fast_housing(id),
    housing_geo_code char(5) not null,
    advice text,
    primary key (campaign_id, housing_id)
);
create table events (
    id uuid primary key,
    type text not null,
    next_old jsonb,
    next_new jsonb,
    created_at timestamptz not null,
    created_by uuid
);
create table housing_events (
    event_id uuid not null references events(id),
    housing_id uuid not null references fast_housing(id),
    housing_geo_code char(5) not null,
    primary key (event_id, housing_id)
);
