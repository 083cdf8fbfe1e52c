-- One row per file a `vaxetl serve` daemon took from a channel: who holds it (a lease the
-- owner renews while it works), how many runs failed, and how it ended. Times are epoch ms.
CREATE TABLE serve_claims (
  channel TEXT NOT NULL,
  file_name TEXT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,                  -- claimed | retrying | done | parked
  owner TEXT NOT NULL DEFAULT '',       -- host:pid:start of the daemon holding the lease
  lease_until BIGINT NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,  -- failed runs so far
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',      -- why the last run failed, or why parked (no PHI)
  run_id TEXT NOT NULL DEFAULT '',      -- the run that judged the file
  reply_file TEXT NOT NULL DEFAULT '',  -- the error (or ACK) file to send back
  reply_sent INTEGER NOT NULL DEFAULT 0,  -- 0 not yet, 2 being sent, 1 sent
  first_seen_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (channel, file_name, size)
);
CREATE INDEX serve_claims_by_state ON serve_claims (channel, state);
