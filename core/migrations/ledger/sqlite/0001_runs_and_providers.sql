-- The ledger as builds before issue 6 left it. IF NOT EXISTS: an older ledger already has
-- these (Ledger adds the columns an even older one lacks before migrating).
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  input_path TEXT NOT NULL,
  input_name TEXT NOT NULL,
  input_sha256 TEXT NOT NULL,
  mode TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  received INTEGER NOT NULL DEFAULT 0,
  loaded INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  held INTEGER NOT NULL DEFAULT 0,
  warnings INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  error_file TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  pipeline_path TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  org TEXT NOT NULL DEFAULT '',
  format TEXT NOT NULL DEFAULT '',
  file_version INTEGER NOT NULL DEFAULT 0,
  corrections INTEGER NOT NULL DEFAULT 0,
  clean INTEGER NOT NULL DEFAULT 0,
  race_records INTEGER NOT NULL DEFAULT 0,
  race_populated INTEGER NOT NULL DEFAULT 0,
  race_unknown INTEGER NOT NULL DEFAULT 0,
  added INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0,
  voided INTEGER NOT NULL DEFAULT 0,
  unchanged INTEGER NOT NULL DEFAULT 0,
  gate TEXT NOT NULL DEFAULT '',
  rerun_of TEXT NOT NULL DEFAULT '',
  kept_path TEXT NOT NULL DEFAULT '',
  superseded_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_hash ON runs (input_sha256, pipeline, status);
CREATE INDEX IF NOT EXISTS runs_by_org ON runs (org, started_at);
CREATE TABLE IF NOT EXISTS providers (
  org TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  changed_at TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  window_from TEXT NOT NULL DEFAULT ''
);
