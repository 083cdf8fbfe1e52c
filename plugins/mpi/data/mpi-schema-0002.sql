-- MPI index schema, version 2: reruns. A file the index has already matched (the same
-- input_sha256) is not matched again: each record gets the master its first decision gave it
-- (followed through merges), so rerunning a file after a failed or held load gives the same
-- ids and adds no masters. The rerun's decision rows point at the decision they repeat.
-- Applied once to a version-1 index, in the same transaction that records version 2.

ALTER TABLE decisions ADD COLUMN replay_of INTEGER REFERENCES decisions (seq);
CREATE INDEX runs_by_input ON runs (input_sha256);

-- The decision log with each row's run id and input digest, for people reading the index with
-- SQL (`SELECT * FROM decision_log WHERE run_id = ... AND record_no = ...`).
CREATE VIEW decision_log AS
SELECT d.seq, r.run_id, r.input_sha256, d.record_no, d.source, d.recipient_id, d.vax_event_id,
       d.record_type, d.decision, d.mpi_id, d.best_candidate, d.score, d.runner_up,
       d.runner_up_score, d.candidates, d.rule, d.comparison, d.model_version, d.replay_of,
       d.decided_at
FROM decisions d JOIN runs r ON r.run_no = d.run_no;

INSERT INTO schema_version (version) VALUES (2);
