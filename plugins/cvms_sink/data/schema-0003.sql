-- CVMS store schema, version 3: corrections (action codes U and D, with history) and state
-- inventory receipts and discrepancies (docs/cvms-schema.md, docs/inventory.md). Applied once
-- to a version-2 store, in the same transaction that records version 3.

-- A D correction voids a vaccination instead of deleting it: the row stays, so the event id
-- cannot be reused by mistake and the dose remains visible to audits. changed_load_id is the
-- load that last updated or voided the row (NULL while it is as load_id inserted it).
ALTER TABLE vaccinations ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
  CHECK (status IN ('active', 'voided'));
ALTER TABLE vaccinations ADD COLUMN changed_load_id INTEGER REFERENCES loads (load_id);

-- One row per change a U or D correction made to a vaccination: the version it replaced,
-- column for column, and the load that made the change (run and input file via loads, or the
-- vaccination_changes view below).
CREATE TABLE vaccination_history (
  history_id               INTEGER PRIMARY KEY,
  vaccination_id           INTEGER NOT NULL REFERENCES vaccinations (vaccination_id),
  change                   TEXT NOT NULL CHECK (change IN ('updated', 'voided')),
  load_id                  INTEGER NOT NULL REFERENCES loads (load_id),
  changed_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  -- The replaced version: the load that wrote it, then its columns as they were.
  version_load_id          INTEGER NOT NULL REFERENCES loads (load_id),
  location_id              INTEGER NOT NULL REFERENCES locations (location_id),
  recipient_id             INTEGER NOT NULL REFERENCES recipients (recipient_id),
  action_code              TEXT,
  admin_date               TEXT,
  cvx                      TEXT,
  mvx                      TEXT,
  dose_status              TEXT,
  ndc                      TEXT REFERENCES products (ndc_unit_of_sale),
  lot_number               TEXT,
  vax_expiration           TEXT,
  vax_admin_site           TEXT,
  vax_route                TEXT,
  dose_volume_ml           TEXT,
  vax_admin_provider_name  TEXT,
  vax_admin_provider_npi   TEXT,
  vis_edition_date         TEXT,
  vis_given_date           TEXT,
  inventory_source         TEXT,
  vax_refusal              TEXT,
  refusal_reason           TEXT,
  cmorbid_status           TEXT,
  serology                 TEXT,
  recip_priority_group     TEXT,
  record_last_modified     TEXT,
  ndc_as_sent              TEXT,
  ext_type                 TEXT,
  pprl_id                  TEXT,
  dose_num                 TEXT,
  vax_series_complete      TEXT,
  responsible_org          TEXT,
  admin_type               TEXT,
  admin_address_street     TEXT,
  admin_address_street_2   TEXT,
  admin_address_city       TEXT,
  admin_address_county     TEXT,
  admin_address_state      TEXT,
  admin_address_zip        TEXT,
  funding_source           TEXT,
  funding_eligibility      TEXT,
  information_source       TEXT,
  completion_status        TEXT,
  content_hash             INTEGER NOT NULL,
  reported_to_cdc          INTEGER NOT NULL
);
CREATE INDEX vaccination_history_by_vaccination ON vaccination_history (vaccination_id);
CREATE INDEX vaccination_history_by_load ON vaccination_history (load_id);

CREATE VIEW vaccination_changes AS
  SELECT h.*, l.run_id, l.input_name
  FROM vaccination_history h JOIN loads l ON l.load_id = h.load_id;

-- Inventory is rebuilt without version 1's reference from pin to locations: vaccine can be
-- received at a PIN before the first dose given there is loaded. Same columns and key.
CREATE TABLE inventory_v3 (
  pin                 TEXT NOT NULL,
  ndc                 TEXT NOT NULL REFERENCES products (ndc_unit_of_sale),
  lot_number          TEXT NOT NULL,
  doses_received      INTEGER NOT NULL DEFAULT 0,
  doses_administered  INTEGER NOT NULL DEFAULT 0,
  on_hand             INTEGER GENERATED ALWAYS AS (doses_received - doses_administered) VIRTUAL,
  PRIMARY KEY (pin, ndc, lot_number)
) WITHOUT ROWID;
INSERT INTO inventory_v3 (pin, ndc, lot_number, doses_received, doses_administered)
  SELECT pin, ndc, lot_number, doses_received, doses_administered FROM inventory;
DROP TABLE inventory;
ALTER TABLE inventory_v3 RENAME TO inventory;

-- Shipments received into state inventory, by unit-of-sale NDC. doses = vials x the
-- product's doses_per_vial at the time of receipt. reference (the shipment or order number)
-- is optional; when given, the same shipment cannot be received twice.
CREATE TABLE inventory_receipts (
  receipt_id      INTEGER PRIMARY KEY,
  pin             TEXT NOT NULL,
  ndc             TEXT NOT NULL REFERENCES products (ndc_unit_of_sale),
  lot_number      TEXT NOT NULL,
  vials           INTEGER NOT NULL CHECK (vials > 0),
  doses_per_vial  INTEGER NOT NULL CHECK (doses_per_vial > 0),
  doses           INTEGER NOT NULL CHECK (doses = vials * doses_per_vial),
  reference       TEXT UNIQUE,
  received_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX inventory_receipts_by_key ON inventory_receipts (pin, ndc, lot_number);

-- Doses a load took from a PIN + NDC + lot beyond what was on hand before it: the doses were
-- given (and loaded), but CVMS had no record of receiving them. One row per load and key.
CREATE TABLE inventory_discrepancies (
  load_id      INTEGER NOT NULL REFERENCES loads (load_id),
  pin          TEXT NOT NULL,
  ndc          TEXT NOT NULL REFERENCES products (ndc_unit_of_sale),
  lot_number   TEXT NOT NULL,
  doses_short  INTEGER NOT NULL CHECK (doses_short > 0),
  PRIMARY KEY (load_id, pin, ndc, lot_number)
) WITHOUT ROWID;
CREATE INDEX inventory_discrepancies_by_key ON inventory_discrepancies (pin, ndc, lot_number);

ALTER TABLE loads ADD COLUMN records_updated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN records_voided INTEGER NOT NULL DEFAULT 0;
-- Records refused because their event is unknown (U or D) or was voided earlier.
ALTER TABLE loads ADD COLUMN records_unknown_event INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN records_event_voided INTEGER NOT NULL DEFAULT 0;
ALTER TABLE loads ADD COLUMN inventory_short_doses INTEGER NOT NULL DEFAULT 0;

-- Version 2 recorded no receipts, so each STATE dose it loaded at a key still without receipts
-- was taken with nothing on hand: record those shortfalls per load, as version 3 would have,
-- so that no negative on_hand is left unexplained.
INSERT INTO inventory_discrepancies (load_id, pin, ndc, lot_number, doses_short)
  SELECT v.load_id, l.pin, v.ndc, v.lot_number, count(*)
  FROM vaccinations v JOIN locations l ON l.location_id = v.location_id
  WHERE v.inventory_source = 'STATE' AND coalesce(v.vax_refusal, '') <> 'YES'
    AND v.ndc IS NOT NULL AND v.lot_number IS NOT NULL
    AND EXISTS (SELECT 1 FROM inventory i WHERE i.pin = l.pin AND i.ndc = v.ndc
                AND i.lot_number = v.lot_number AND i.doses_received = 0)
  GROUP BY v.load_id, l.pin, v.ndc, v.lot_number;
UPDATE loads SET inventory_short_doses =
    (SELECT sum(d.doses_short) FROM inventory_discrepancies d WHERE d.load_id = loads.load_id)
  WHERE load_id IN (SELECT load_id FROM inventory_discrepancies);

INSERT INTO schema_version (version) VALUES (3);
