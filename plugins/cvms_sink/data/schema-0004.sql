-- CVMS store schema, version 4: one recipient per master patient (docs/cvms-schema.md).
-- Applied once to a version-3 store, in the same transaction that records version 4.
--
-- With the MPI stage in the pipeline, every record carries an mpi_id and CVMS keeps ONE
-- recipient row per mpi_id, whichever organizations sent the person and under which of their
-- own ids (recipient_keys lists them). Without it (mpi_id NULL), a recipient is still one row
-- per org_code + recip_id. The table is rebuilt because SQLite cannot drop the old
-- UNIQUE (org_id, recip_id) constraint: a provider id the MPI splits between two people must be
-- able to name two rows.

PRAGMA legacy_alter_table = ON;  -- the rename below must not rewrite the views that name recipients

CREATE TABLE recipients_v4 (
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
  -- Set when an operator merged this recipient's master into another (vaxetl mpi merge): the
  -- surviving recipient now holds its vaccinations; an unmerge clears it again.
  merged_into             INTEGER REFERENCES recipients (recipient_id)
);
INSERT INTO recipients_v4 (recipient_id, org_id, recip_id, recip_first_name, recip_middle_name,
    recip_last_name, recip_suffix, recip_dob, recip_sex, recip_address_street,
    recip_address_street_2, recip_address_city, recip_address_county, recip_address_state,
    recip_address_zip, recip_phone, recip_email, recip_race_1, recip_race_2, recip_race_3,
    recip_race_4, recip_race_5, recip_race_6, recip_ethnicity, recip_language, guardian_name,
    demographics_hash, mpi_id, first_load_id, updated_load_id)
  SELECT recipient_id, org_id, recip_id, recip_first_name, recip_middle_name, recip_last_name,
    recip_suffix, recip_dob, recip_sex, recip_address_street, recip_address_street_2,
    recip_address_city, recip_address_county, recip_address_state, recip_address_zip,
    recip_phone, recip_email, recip_race_1, recip_race_2, recip_race_3, recip_race_4,
    recip_race_5, recip_race_6, recip_ethnicity, recip_language, guardian_name,
    demographics_hash, mpi_id, first_load_id, updated_load_id
  FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_v4 RENAME TO recipients;
PRAGMA legacy_alter_table = OFF;

-- Without an MPI: one row per organization + recipient id. With one: one row per master.
CREATE UNIQUE INDEX recipients_by_org_recip ON recipients (org_id, recip_id) WHERE mpi_id IS NULL;
CREATE UNIQUE INDEX recipients_by_mpi_id ON recipients (mpi_id) WHERE mpi_id IS NOT NULL;
CREATE INDEX recipients_by_provider_id ON recipients (org_id, recip_id);

-- Every organization + recipient id a master's records came under, with the load that first
-- brought it: how a provider's own id finds the person in CVMS.
CREATE TABLE recipient_keys (
  org_id        INTEGER NOT NULL REFERENCES organizations (org_id),
  recip_id      TEXT NOT NULL,
  recipient_id  INTEGER NOT NULL REFERENCES recipients (recipient_id),
  first_load_id INTEGER NOT NULL REFERENCES loads (load_id),
  PRIMARY KEY (org_id, recip_id, recipient_id)
) WITHOUT ROWID;
CREATE INDEX recipient_keys_by_recipient ON recipient_keys (recipient_id);

-- Operators' merges of two masters as applied to CVMS: which vaccinations moved, so that an
-- unmerge moves exactly those back. Rows are never deleted; an unmerge sets unmerged_at.
CREATE TABLE recipient_merges (
  merge_id               INTEGER PRIMARY KEY,
  survivor_recipient_id  INTEGER NOT NULL REFERENCES recipients (recipient_id),
  retired_recipient_id   INTEGER NOT NULL REFERENCES recipients (recipient_id),
  merged_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  unmerged_at            TEXT
);
CREATE TABLE recipient_merge_moves (
  merge_id        INTEGER NOT NULL REFERENCES recipient_merges (merge_id),
  vaccination_id  INTEGER NOT NULL REFERENCES vaccinations (vaccination_id),
  PRIMARY KEY (merge_id, vaccination_id)
) WITHOUT ROWID;

INSERT INTO schema_version (version) VALUES (4);
