-- MPI index schema, version 2: reruns. A file the index has already matched (the same
-- input_sha256) is not matched again: each record gets the master its first decision gave it
-- (followed through merges), so rerunning a file after a failed or held load gives the same
-- ids and adds no masters. The rerun's decision rows point at the decision they repeat.
-- Applied once to a version-1 index, in the same transaction that records version 2.

ALTER TABLE decisions ADD COLUMN replay_of INTEGER REFERENCES decisions (seq);
CREATE INDEX decisions_by_input ON decisions (input_sha256, record_no);

INSERT INTO schema_version (version) VALUES (2);
