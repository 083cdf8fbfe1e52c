-- A provider may upload a file with the same name and size again after the first one was
-- settled: the done (or parked) row is then reopened for that new upload. generation counts the
-- uploads seen under this key (0: the first), generation_at is when the current one was claimed
-- (epoch ms), previous_run_id is the run that judged the upload before. A new upload whose run
-- is skipped as already loaded does not resend the reply of a run older than itself.
ALTER TABLE serve_claims ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE serve_claims ADD COLUMN generation_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE serve_claims ADD COLUMN previous_run_id TEXT NOT NULL DEFAULT '';
