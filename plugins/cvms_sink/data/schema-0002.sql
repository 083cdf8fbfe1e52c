-- CVMS store schema, version 2: the canonical columns CDC CVRS and HL7 VXU carry beyond NCVR
-- (docs/canonical-record.md). Applied once to a version-1 store, in the same transaction that
-- records version 2. NCVR loads leave these columns NULL.
--
-- They sit on vaccinations because each is a fact of the event as the record stated it: the
-- administering address (a mobile clinic is where it was held that day), the funding and
-- series facts, and the PPRL id the sender used for this record.

ALTER TABLE vaccinations ADD COLUMN ext_type TEXT;
ALTER TABLE vaccinations ADD COLUMN pprl_id TEXT;
ALTER TABLE vaccinations ADD COLUMN dose_num TEXT;
ALTER TABLE vaccinations ADD COLUMN vax_series_complete TEXT;
ALTER TABLE vaccinations ADD COLUMN responsible_org TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_type TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_street TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_street_2 TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_city TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_county TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_state TEXT;
ALTER TABLE vaccinations ADD COLUMN admin_address_zip TEXT;
ALTER TABLE vaccinations ADD COLUMN funding_source TEXT;
ALTER TABLE vaccinations ADD COLUMN funding_eligibility TEXT;
ALTER TABLE vaccinations ADD COLUMN information_source TEXT;
ALTER TABLE vaccinations ADD COLUMN completion_status TEXT;

INSERT INTO schema_version (version) VALUES (2);
