-- Runs name the machine that ran them (a ledger shared by several machines judges only its own
-- host's processes), and each run keeps its finding counts per code for /metrics.
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_by_status ON runs (status, host);
CREATE TABLE run_findings (
  run_id TEXT NOT NULL REFERENCES runs (run_id),
  code TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (run_id, code)
);
