-- CVMS store schema, version 1. docs/cvms-schema.md describes every table and column.
--
-- Applied by CvmsStore on every open: every statement is idempotent (IF NOT EXISTS, OR IGNORE),
-- so opening an existing store changes nothing. A change to this file that existing stores need
-- is a new schema version: bump the version row below and kSchemaVersion in cvms_store.hpp, and
-- add the migration step to CvmsStore's open path.
--
-- Conventions: canonical values are stored as TEXT exactly as the reader normalized them
-- (dates YYYY-MM-DD, PIN NCA+6, NDC 5-4-2 with hyphens); an empty canonical value is NULL.
-- Surrogate keys are INTEGER PRIMARY KEY (the rowid) to keep the big tables and their indexes
-- small.

CREATE TABLE IF NOT EXISTS schema_version (
  version     INTEGER PRIMARY KEY,
  applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT OR IGNORE INTO schema_version (version) VALUES (1);

-- One row per input file committed to the store (validate-only runs leave none). Written in
-- the same transaction as the file's records, so a row here means the whole file is present.
CREATE TABLE IF NOT EXISTS loads (
  load_id             INTEGER PRIMARY KEY,
  run_id              TEXT NOT NULL,
  input_name          TEXT NOT NULL,
  input_sha256        TEXT NOT NULL,
  records_read        INTEGER NOT NULL DEFAULT 0,
  records_rejected    INTEGER NOT NULL DEFAULT 0,
  records_inserted    INTEGER NOT NULL DEFAULT 0,
  records_unchanged   INTEGER NOT NULL DEFAULT 0,
  records_conflicting INTEGER NOT NULL DEFAULT 0,
  records_duplicate   INTEGER NOT NULL DEFAULT 0,
  state_doses         INTEGER NOT NULL DEFAULT 0,
  started_at          TEXT NOT NULL,
  committed_at        TEXT
);
CREATE INDEX IF NOT EXISTS loads_by_input_sha256 ON loads (input_sha256);
CREATE INDEX IF NOT EXISTS loads_by_run_id ON loads (run_id);

-- Submitting provider organizations (NCVR field 3, the ORGNAME of the file name).
CREATE TABLE IF NOT EXISTS organizations (
  org_id         INTEGER PRIMARY KEY,
  org_code       TEXT NOT NULL UNIQUE,
  first_load_id  INTEGER NOT NULL REFERENCES loads (load_id)
);

-- Administering locations, keyed by VTrckS provider PIN (NCVR fields 4-5).
CREATE TABLE IF NOT EXISTS locations (
  location_id      INTEGER PRIMARY KEY,
  pin              TEXT NOT NULL UNIQUE,
  name             TEXT,
  org_id           INTEGER NOT NULL REFERENCES organizations (org_id),
  first_load_id    INTEGER NOT NULL REFERENCES loads (load_id),
  updated_load_id  INTEGER NOT NULL REFERENCES loads (load_id)
);

-- The COVID-19 product catalog (products.tsv), refreshed from the catalog on every open.
CREATE TABLE IF NOT EXISTS products (
  ndc_unit_of_sale  TEXT PRIMARY KEY,
  ndc_unit_of_use   TEXT NOT NULL,
  cvx               TEXT NOT NULL,
  mvx               TEXT NOT NULL,
  name              TEXT NOT NULL,
  doses_per_vial    INTEGER NOT NULL CHECK (doses_per_vial > 0),
  note              TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS products_by_unit_of_use ON products (ndc_unit_of_use);

-- Vaccine recipients as each organization identifies them (NCVR fields 6-29): one row per
-- org_code + recip_id, whatever the number of doses. mpi_id is filled by the master patient
-- index stage (NULL until then).
CREATE TABLE IF NOT EXISTS recipients (
  recipient_id            INTEGER PRIMARY KEY,
  org_id                  INTEGER NOT NULL REFERENCES organizations (org_id),
  recip_id                TEXT NOT NULL,
  recip_first_name        TEXT,
  recip_middle_name       TEXT,
  recip_last_name         TEXT,
  recip_suffix            TEXT,
  recip_dob               TEXT,
  recip_sex               TEXT,
  recip_address_street    TEXT,
  recip_address_street_2  TEXT,
  recip_address_city      TEXT,
  recip_address_county    TEXT,
  recip_address_state     TEXT,
  recip_address_zip       TEXT,
  recip_phone             TEXT,
  recip_email             TEXT,
  recip_race_1            TEXT,
  recip_race_2            TEXT,
  recip_race_3            TEXT,
  recip_race_4            TEXT,
  recip_race_5            TEXT,
  recip_race_6            TEXT,
  recip_ethnicity         TEXT,
  recip_language          TEXT,
  guardian_name           TEXT,
  demographics_hash       INTEGER NOT NULL,
  mpi_id                  TEXT,
  first_load_id           INTEGER NOT NULL REFERENCES loads (load_id),
  updated_load_id         INTEGER NOT NULL REFERENCES loads (load_id),
  UNIQUE (org_id, recip_id)
);
CREATE INDEX IF NOT EXISTS recipients_by_mpi_id ON recipients (mpi_id) WHERE mpi_id IS NOT NULL;

-- Vaccination events (administered doses and refusals): one row per org_code + vax_event_id.
-- A row is written once, by the load that first brought it (load_id); later loads never
-- rewrite it (a changed resubmission is reported as a conflict, to be sent as a U correction).
-- content_hash: 64-bit hash of the record's canonical values (see cvms_store.hpp) to tell an
-- identical resubmission from a changed one.
CREATE TABLE IF NOT EXISTS vaccinations (
  vaccination_id           INTEGER PRIMARY KEY,
  org_id                   INTEGER NOT NULL REFERENCES organizations (org_id),
  vax_event_id             TEXT NOT NULL,
  action_code              TEXT,
  location_id              INTEGER NOT NULL REFERENCES locations (location_id),
  recipient_id             INTEGER NOT NULL REFERENCES recipients (recipient_id),
  admin_date               TEXT,
  cvx                      TEXT,
  mvx                      TEXT,
  dose_status              TEXT,
  ndc                      TEXT REFERENCES products (ndc_unit_of_sale),
  lot_number               TEXT,
  vax_expiration           TEXT,
  vax_admin_site           TEXT,
  vax_route                TEXT,
  dose_volume_ml           TEXT,
  vax_admin_provider_name  TEXT,
  vax_admin_provider_npi   TEXT,
  vis_edition_date         TEXT,
  vis_given_date           TEXT,
  inventory_source         TEXT,
  vax_refusal              TEXT,
  refusal_reason           TEXT,
  cmorbid_status           TEXT,
  serology                 TEXT,
  recip_priority_group     TEXT,
  record_last_modified     TEXT,
  ndc_as_sent              TEXT,
  content_hash             INTEGER NOT NULL,
  reported_to_cdc          INTEGER NOT NULL DEFAULT 0 CHECK (reported_to_cdc IN (0, 1)),
  load_id                  INTEGER NOT NULL REFERENCES loads (load_id),
  UNIQUE (org_id, vax_event_id)
);
CREATE INDEX IF NOT EXISTS vaccinations_by_recipient ON vaccinations (recipient_id);

-- CVMS inventory of state-allocated vaccine, in doses, per location PIN + unit-of-sale NDC +
-- lot. Only STATE administered doses count here; FEDERAL doses never touch it.
CREATE TABLE IF NOT EXISTS inventory (
  pin                 TEXT NOT NULL REFERENCES locations (pin),
  ndc                 TEXT NOT NULL REFERENCES products (ndc_unit_of_sale),
  lot_number          TEXT NOT NULL,
  doses_received      INTEGER NOT NULL DEFAULT 0,
  doses_administered  INTEGER NOT NULL DEFAULT 0,
  on_hand             INTEGER GENERATED ALWAYS AS (doses_received - doses_administered) VIRTUAL,
  PRIMARY KEY (pin, ndc, lot_number)
) WITHOUT ROWID;
