-- The ledger's tables as on SQLite. "rowid" is an identity column so that the same SQL text
-- orders runs by insertion on both backends (SQLite's implicit rowid).
CREATE TABLE runs (
  rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  run_id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  input_path TEXT NOT NULL,
  input_name TEXT NOT NULL,
  input_sha256 TEXT NOT NULL,
  mode TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  received BIGINT NOT NULL DEFAULT 0,
  loaded BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0,
  held BIGINT NOT NULL DEFAULT 0,
  warnings BIGINT NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  error_file TEXT NOT NULL DEFAULT '',
  pid BIGINT NOT NULL DEFAULT 0,
  pipeline_path TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  org TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL DEFAULT '',
  file_version BIGINT NOT NULL DEFAULT 0,
  corrections BIGINT NOT NULL DEFAULT 0,
  clean BIGINT NOT NULL DEFAULT 0,
  race_records BIGINT NOT NULL DEFAULT 0,
  race_populated BIGINT NOT NULL DEFAULT 0,
  race_unknown BIGINT NOT NULL DEFAULT 0,
  added BIGINT NOT NULL DEFAULT 0,
  updated BIGINT NOT NULL DEFAULT 0,
  voided BIGINT NOT NULL DEFAULT 0,
  unchanged BIGINT NOT NULL DEFAULT 0,
  gate TEXT NOT NULL DEFAULT '',
  rerun_of TEXT NOT NULL DEFAULT '',
  kept_path TEXT NOT NULL DEFAULT '',
  superseded_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_hash ON runs (input_sha256, pipeline, status);
CREATE INDEX runs_by_org ON runs (org, started_at);
CREATE TABLE providers (
  org TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  changed_at TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  window_from TEXT NOT NULL DEFAULT ''
);
