-- MPI index schema, version 1: the masters the matcher knows, the values each has seen, the
-- append-only decision log, possible matches waiting for review, operators' merges and the
-- estimated models. docs/mpi-operations.md describes the tables for operators.
--
-- Applied by MpiStore to a new index only, then every mpi-schema-NNNN.sql up to the version
-- the build writes, in one transaction. A change existing indexes need is a new step file plus
-- kIndexSchemaVersion in index_store/mpi_store.hpp; this file is never edited after release.
--
-- Standard SQL on purpose (PostgreSQL comes later): INTEGER keys, TEXT, REAL, CHECK, UNIQUE.
-- The SQLite-only parts are the triggers' RAISE, WITHOUT ROWID and INTEGER PRIMARY KEY being
-- the rowid.
-- Times are UTC 'YYYY-MM-DDTHH:MM:SSZ', written by the store.

CREATE TABLE schema_version (
  version     INTEGER PRIMARY KEY,
  applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO schema_version (version) VALUES (1);

-- The compared fields, numbered like vaxetl::mpi::Field (append only). master_values stores the
-- number; this table is for people reading the index with SQL.
CREATE TABLE fields (
  field  INTEGER PRIMARY KEY,
  name   TEXT NOT NULL UNIQUE
);
INSERT INTO fields (field, name) VALUES
  (0, 'first_name'), (1, 'middle_name'), (2, 'last_name'), (3, 'birth_date'), (4, 'sex'),
  (5, 'street'), (6, 'city'), (7, 'zip'), (8, 'phone'), (9, 'email'), (10, 'ssn'),
  (11, 'recipient_id');

-- One row per load that wrote to the index (a dry run writes none). Decisions name their run
-- by number; a rerun of an input is found by its SHA-256.
CREATE TABLE runs (
  run_no        INTEGER PRIMARY KEY,
  run_id        TEXT NOT NULL UNIQUE,  -- the vaxetl run id (ledger, `vaxetl runs`)
  input_sha256  TEXT NOT NULL,
  started_at    TEXT NOT NULL
);

-- One row per master patient. The id never changes and is never reused. A merged master is
-- 'retired' and points at the master it was merged into; its records and values count for
-- that master until an operator unmerges it.
CREATE TABLE masters (
  mpi_id       INTEGER PRIMARY KEY,
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
  created_run  INTEGER NOT NULL,  -- runs.run_no of the load that created it
  created_at   TEXT NOT NULL,
  merged_into  INTEGER REFERENCES masters (mpi_id),
  CHECK ((status = 'retired' AND merged_into IS NOT NULL) OR
         (status = 'active' AND merged_into IS NULL))
);
CREATE INDEX masters_by_merged_into ON masters (merged_into) WHERE merged_into IS NOT NULL;

-- Every normalized value a master has seen, per field, kept with the master that learned it
-- (its origin). A merge moves nothing: the retired master's values count for the survivor
-- when the index is loaded, so an unmerge gives back exactly the values that came from it.
-- One B-tree keyed by master (WITHOUT ROWID): a load appends to it and reads it in key order.
CREATE TABLE master_values (
  mpi_id     INTEGER NOT NULL REFERENCES masters (mpi_id),
  field      INTEGER NOT NULL REFERENCES fields (field),
  value      TEXT NOT NULL,
  first_run  INTEGER NOT NULL,     -- runs.run_no of the load that learned it
  PRIMARY KEY (mpi_id, field, value)
) WITHOUT ROWID;

-- One row per operator merge: the retired id answers for the survivor until the alias ends (an
-- unmerge). Rows are never deleted; an ended alias keeps who ended it, when and why.
CREATE TABLE aliases (
  alias_id          INTEGER PRIMARY KEY,
  retired_mpi_id    INTEGER NOT NULL REFERENCES masters (mpi_id),
  surviving_mpi_id  INTEGER NOT NULL REFERENCES masters (mpi_id),
  created_at        TEXT NOT NULL,
  created_by        TEXT NOT NULL,
  reason            TEXT NOT NULL,
  ended_at          TEXT,
  ended_by          TEXT,
  end_reason        TEXT
);
CREATE INDEX aliases_by_retired ON aliases (retired_mpi_id);
CREATE INDEX aliases_by_survivor ON aliases (surviving_mpi_id);

-- The decision log: one row per record matched, never changed or deleted (the triggers below).
-- comparison holds each field's agreement level and weight against best_candidate, e.g.
-- "first_name=nickname:+3.10;birth_date=exact:+9.80"; fields not listed were missing. No
-- values: `vaxetl mpi explain` prints it as it is.
CREATE TABLE decisions (
  seq              INTEGER PRIMARY KEY,
  run_no           INTEGER NOT NULL REFERENCES runs (run_no),
  record_no        INTEGER NOT NULL,  -- the record's line (or message) in the input
  source           TEXT,              -- org_code of the sending provider
  recipient_id     TEXT,              -- the provider's own id for the person
  vax_event_id     TEXT,
  record_type      TEXT,              -- NULL / VACCINATION, or DEMOGRAPHICS
  decision         TEXT NOT NULL CHECK (decision IN ('linked', 'new', 'possible')),
  mpi_id           INTEGER NOT NULL,  -- the master the record was given
  best_candidate   INTEGER,           -- NULL when no master was scored
  score            REAL NOT NULL,
  runner_up        INTEGER,
  runner_up_score  REAL,
  candidates       INTEGER NOT NULL,
  rule             TEXT,              -- the rule that overrode the score, if any
  comparison       TEXT,
  model_version    INTEGER NOT NULL,  -- models.version; 0: the built-in defaults
  decided_at       TEXT NOT NULL
);
CREATE INDEX decisions_by_run ON decisions (run_no, record_no);
CREATE INDEX decisions_by_recipient ON decisions (source, recipient_id);
CREATE INDEX decisions_by_master ON decisions (mpi_id);
CREATE TRIGGER decisions_append_only_update BEFORE UPDATE ON decisions
BEGIN
  SELECT RAISE(ABORT, 'decisions are append-only');
END;
CREATE TRIGGER decisions_append_only_delete BEFORE DELETE ON decisions
BEGIN
  SELECT RAISE(ABORT, 'decisions are append-only');
END;

-- What operators did, never changed or deleted: merge, unmerge, dismiss.
CREATE TABLE operator_actions (
  action_id         INTEGER PRIMARY KEY,
  action            TEXT NOT NULL CHECK (action IN ('merge', 'unmerge', 'dismiss')),
  surviving_mpi_id  INTEGER,
  retired_mpi_id    INTEGER,
  review_id         INTEGER,
  performed_by      TEXT NOT NULL,
  reason            TEXT NOT NULL,
  performed_at      TEXT NOT NULL
);
CREATE INDEX operator_actions_by_survivor ON operator_actions (surviving_mpi_id);
CREATE INDEX operator_actions_by_retired ON operator_actions (retired_mpi_id);
CREATE TRIGGER operator_actions_append_only_update BEFORE UPDATE ON operator_actions
BEGIN
  SELECT RAISE(ABORT, 'operator_actions are append-only');
END;
CREATE TRIGGER operator_actions_append_only_delete BEFORE DELETE ON operator_actions
BEGIN
  SELECT RAISE(ABORT, 'operator_actions are append-only');
END;

-- Possible matches: the record got a new master (mpi_id) that may be the same person as
-- candidate_mpi_id. An operator merges the two or dismisses the item.
CREATE TABLE reviews (
  review_id         INTEGER PRIMARY KEY,
  decision_seq      INTEGER NOT NULL UNIQUE REFERENCES decisions (seq),
  mpi_id            INTEGER NOT NULL REFERENCES masters (mpi_id),
  candidate_mpi_id  INTEGER NOT NULL REFERENCES masters (mpi_id),
  score             REAL NOT NULL,
  status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'dismissed')),
  created_at        TEXT NOT NULL,
  resolved_at       TEXT,
  resolved_by       TEXT,
  resolved_action   INTEGER REFERENCES operator_actions (action_id)
);
CREATE INDEX reviews_by_status ON reviews (status);

-- Estimated matching models (vaxetl::mpi::Model::to_text()), newest last. A load uses the
-- newest; the decisions it makes name the version.
CREATE TABLE models (
  version      INTEGER PRIMARY KEY,
  created_at   TEXT NOT NULL,
  run_id       TEXT,             -- the load whose scored pairs estimated it
  pairs        INTEGER NOT NULL, -- candidate pairs EM used
  iterations   INTEGER NOT NULL,
  match_share  REAL,
  model        TEXT NOT NULL
);
