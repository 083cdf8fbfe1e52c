-- CVMS store on PostgreSQL, version 1: the same tables and columns as the SQLite store at its
-- schema version 4 (docs/cvms-schema.md), applied by `vaxetl db migrate PIPELINE`.
--
-- Differences from SQLite, and why:
--   * Surrogate keys are bigserial: the loader reserves ids for a whole batch with one
--     nextval() call per batch, then COPYs rows with their ids.
--   * References written by loads (vaccinations, recipients, locations, history, keys,
--     inventory and its discrepancies) are documented here, not declared: a declared foreign key costs a trigger and an index
--     probe per copied row. The store writes only ids it has just read or reserved, exactly as
--     the SQLite store (which runs with foreign_keys=OFF); the tests check every reference.
--   * Time stamps stay TEXT in the same ISO 8601 UTC form as SQLite's, so tools and reports
--     read both stores alike.
--   * 0/1 flags stay integers, hashes are bigint (the signed 64-bit value SQLite stores).

CREATE FUNCTION cvms_now() RETURNS text LANGUAGE sql VOLATILE AS
  $$ SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

CREATE TABLE loads (
  load_id                bigserial PRIMARY KEY,
  run_id                 text NOT NULL,
  input_name             text NOT NULL,
  input_sha256           text NOT NULL,
  records_read           bigint NOT NULL DEFAULT 0,
  records_rejected       bigint NOT NULL DEFAULT 0,
  records_inserted       bigint NOT NULL DEFAULT 0,
  records_unchanged      bigint NOT NULL DEFAULT 0,
  records_conflicting    bigint NOT NULL DEFAULT 0,
  records_duplicate      bigint NOT NULL DEFAULT 0,
  state_doses            bigint NOT NULL DEFAULT 0,
  started_at             text NOT NULL,
  committed_at           text,
  records_updated        bigint NOT NULL DEFAULT 0,
  records_voided         bigint NOT NULL DEFAULT 0,
  records_unknown_event  bigint NOT NULL DEFAULT 0,
  records_event_voided   bigint NOT NULL DEFAULT 0,
  inventory_short_doses  bigint NOT NULL DEFAULT 0
);
CREATE INDEX loads_by_input_sha256 ON loads (input_sha256);
CREATE INDEX loads_by_run_id ON loads (run_id);

CREATE TABLE organizations (
  org_id         bigserial PRIMARY KEY,
  org_code       text NOT NULL UNIQUE,
  first_load_id  bigint NOT NULL  -- loads
);

CREATE TABLE locations (
  location_id      bigserial PRIMARY KEY,
  pin              text NOT NULL UNIQUE,
  name             text,
  org_id           bigint NOT NULL,  -- organizations
  first_load_id    bigint NOT NULL,  -- loads
  updated_load_id  bigint NOT NULL   -- loads
);

CREATE TABLE products (
  ndc_unit_of_sale  text PRIMARY KEY,
  ndc_unit_of_use   text NOT NULL,
  cvx               text NOT NULL,
  mvx               text NOT NULL,
  name              text NOT NULL,
  doses_per_vial    integer NOT NULL CHECK (doses_per_vial > 0),
  note              text
);
CREATE INDEX products_by_unit_of_use ON products (ndc_unit_of_use);

CREATE TABLE recipients (
  recipient_id            bigserial PRIMARY KEY,
  org_id                  bigint NOT NULL,  -- organizations
  recip_id                text NOT NULL,
  recip_first_name        text,
  recip_middle_name       text,
  recip_last_name         text,
  recip_suffix            text,
  recip_dob               text,
  recip_sex               text,
  recip_address_street    text,
  recip_address_street_2  text,
  recip_address_city      text,
  recip_address_county    text,
  recip_address_state     text,
  recip_address_zip       text,
  recip_phone             text,
  recip_email             text,
  recip_race_1            text,
  recip_race_2            text,
  recip_race_3            text,
  recip_race_4            text,
  recip_race_5            text,
  recip_race_6            text,
  recip_ethnicity         text,
  recip_language          text,
  guardian_name           text,
  demographics_hash       bigint NOT NULL,
  mpi_id                  text,
  first_load_id           bigint NOT NULL,  -- loads
  updated_load_id         bigint NOT NULL,  -- loads
  merged_into             bigint            -- recipients
);
CREATE UNIQUE INDEX recipients_by_org_recip ON recipients (org_id, recip_id) WHERE mpi_id IS NULL;
CREATE UNIQUE INDEX recipients_by_mpi_id ON recipients (mpi_id) WHERE mpi_id IS NOT NULL;
CREATE INDEX recipients_by_provider_id ON recipients (org_id, recip_id);

CREATE TABLE recipient_keys (
  org_id        bigint NOT NULL,  -- organizations
  recip_id      text NOT NULL,
  recipient_id  bigint NOT NULL,  -- recipients
  first_load_id bigint NOT NULL,  -- loads
  PRIMARY KEY (org_id, recip_id, recipient_id)
);
CREATE INDEX recipient_keys_by_recipient ON recipient_keys (recipient_id);

CREATE TABLE vaccinations (
  vaccination_id           bigserial PRIMARY KEY,
  org_id                   bigint NOT NULL,  -- organizations
  vax_event_id             text NOT NULL,
  action_code              text,
  location_id              bigint NOT NULL,  -- locations
  recipient_id             bigint NOT NULL,  -- recipients
  admin_date               text,
  cvx                      text,
  mvx                      text,
  dose_status              text,
  ndc                      text,             -- products
  lot_number               text,
  vax_expiration           text,
  vax_admin_site           text,
  vax_route                text,
  dose_volume_ml           text,
  vax_admin_provider_name  text,
  vax_admin_provider_npi   text,
  vis_edition_date         text,
  vis_given_date           text,
  inventory_source         text,
  vax_refusal              text,
  refusal_reason           text,
  cmorbid_status           text,
  serology                 text,
  recip_priority_group     text,
  record_last_modified     text,
  ndc_as_sent              text,
  content_hash             bigint NOT NULL,
  reported_to_cdc          integer NOT NULL DEFAULT 0 CHECK (reported_to_cdc IN (0, 1)),
  load_id                  bigint NOT NULL,  -- loads
  ext_type                 text,
  pprl_id                  text,
  dose_num                 text,
  vax_series_complete      text,
  responsible_org          text,
  admin_type               text,
  admin_address_street     text,
  admin_address_street_2   text,
  admin_address_city       text,
  admin_address_county     text,
  admin_address_state      text,
  admin_address_zip        text,
  funding_source           text,
  funding_eligibility      text,
  information_source       text,
  completion_status        text,
  status                   text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'voided')),
  changed_load_id          bigint,  -- loads
  UNIQUE (org_id, vax_event_id)
);
CREATE INDEX vaccinations_by_recipient ON vaccinations (recipient_id);

CREATE TABLE vaccination_history (
  history_id               bigserial PRIMARY KEY,
  vaccination_id           bigint NOT NULL,  -- vaccinations
  change                   text NOT NULL CHECK (change IN ('updated', 'voided')),
  load_id                  bigint NOT NULL,  -- loads
  changed_at               text NOT NULL DEFAULT cvms_now(),
  version_load_id          bigint NOT NULL,  -- loads
  location_id              bigint NOT NULL,  -- locations
  recipient_id             bigint NOT NULL,  -- recipients
  action_code              text,
  admin_date               text,
  cvx                      text,
  mvx                      text,
  dose_status              text,
  ndc                      text,
  lot_number               text,
  vax_expiration           text,
  vax_admin_site           text,
  vax_route                text,
  dose_volume_ml           text,
  vax_admin_provider_name  text,
  vax_admin_provider_npi   text,
  vis_edition_date         text,
  vis_given_date           text,
  inventory_source         text,
  vax_refusal              text,
  refusal_reason           text,
  cmorbid_status           text,
  serology                 text,
  recip_priority_group     text,
  record_last_modified     text,
  ndc_as_sent              text,
  ext_type                 text,
  pprl_id                  text,
  dose_num                 text,
  vax_series_complete      text,
  responsible_org          text,
  admin_type               text,
  admin_address_street     text,
  admin_address_street_2   text,
  admin_address_city       text,
  admin_address_county     text,
  admin_address_state      text,
  admin_address_zip        text,
  funding_source           text,
  funding_eligibility      text,
  information_source       text,
  completion_status        text,
  content_hash             bigint NOT NULL,
  reported_to_cdc          integer NOT NULL
);
CREATE INDEX vaccination_history_by_vaccination ON vaccination_history (vaccination_id);
CREATE INDEX vaccination_history_by_load ON vaccination_history (load_id);

CREATE VIEW vaccination_changes AS
  SELECT h.*, l.run_id, l.input_name
  FROM vaccination_history h JOIN loads l ON l.load_id = h.load_id;

CREATE TABLE inventory (
  pin                 text NOT NULL,
  ndc                 text NOT NULL,  -- products
  lot_number          text NOT NULL,
  doses_received      bigint NOT NULL DEFAULT 0,
  doses_administered  bigint NOT NULL DEFAULT 0,
  on_hand             bigint GENERATED ALWAYS AS (doses_received - doses_administered) STORED,
  PRIMARY KEY (pin, ndc, lot_number)
);

CREATE TABLE inventory_receipts (
  receipt_id      bigserial PRIMARY KEY,
  pin             text NOT NULL,
  ndc             text NOT NULL REFERENCES products (ndc_unit_of_sale),
  lot_number      text NOT NULL,
  vials           bigint NOT NULL CHECK (vials > 0),
  doses_per_vial  bigint NOT NULL CHECK (doses_per_vial > 0),
  doses           bigint NOT NULL CHECK (doses = vials * doses_per_vial),
  reference       text UNIQUE,
  received_at     text NOT NULL DEFAULT cvms_now()
);
CREATE INDEX inventory_receipts_by_key ON inventory_receipts (pin, ndc, lot_number);

CREATE TABLE inventory_discrepancies (
  load_id      bigint NOT NULL,  -- loads
  pin          text NOT NULL,
  ndc          text NOT NULL,    -- products
  lot_number   text NOT NULL,
  doses_short  bigint NOT NULL CHECK (doses_short > 0),
  PRIMARY KEY (load_id, pin, ndc, lot_number)
);
CREATE INDEX inventory_discrepancies_by_key ON inventory_discrepancies (pin, ndc, lot_number);

CREATE TABLE recipient_merges (
  merge_id               bigserial PRIMARY KEY,
  survivor_recipient_id  bigint NOT NULL,  -- recipients
  retired_recipient_id   bigint NOT NULL,  -- recipients
  merged_at              text NOT NULL DEFAULT cvms_now(),
  unmerged_at            text
);
CREATE TABLE recipient_merge_moves (
  merge_id        bigint NOT NULL REFERENCES recipient_merges (merge_id),
  vaccination_id  bigint NOT NULL,  -- vaccinations
  PRIMARY KEY (merge_id, vaccination_id)
);
