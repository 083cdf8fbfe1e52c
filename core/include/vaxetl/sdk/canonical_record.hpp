// The canonical vaccination record: the column names every source produces and every
// transform and sink reads, whatever format the record came in. docs/canonical-record.md
// documents each column and the source field it comes from in each format.
#pragma once

#include <array>
#include <string_view>

namespace vaxetl::canonical {

// Metadata columns present in every batch (see plugin_abi.h).
inline constexpr std::string_view kRecordNo = "_record_no";  // int64: input line number
inline constexpr std::string_view kRaw = "_raw";             // utf8: the record as received

// Record columns, all utf8, null when empty. Values are normalized by the source:
// dates YYYY-MM-DD (expiration may be YYYY-MM), PIN as NCA + 6, NDC as 11-digit 5-4-2 unit of
// sale, phone as 10 digits, codes upper-case.
inline constexpr std::array<std::string_view, 68> kColumns = {
    "vax_event_id",          "action_code",         "org_code",
    "vtrcks_prov_pin",       "admin_name",          "recip_id",
    "recip_first_name",      "recip_middle_name",   "recip_last_name",
    "recip_suffix",          "recip_dob",           "recip_sex",
    "recip_address_street",  "recip_address_street_2", "recip_address_city",
    "recip_address_county",  "recip_address_state", "recip_address_zip",
    "recip_phone",           "recip_email",         "recip_race_1",
    "recip_race_2",          "recip_race_3",        "recip_race_4",
    "recip_race_5",          "recip_race_6",        "recip_ethnicity",
    "recip_language",        "guardian_name",       "admin_date",
    "cvx",                   "mvx",                 "dose_status",
    "ndc",                   "lot_number",          "vax_expiration",
    "vax_admin_site",        "vax_route",           "dose_volume_ml",
    "vax_admin_provider_name", "vax_admin_provider_npi", "vis_edition_date",
    "vis_given_date",        "inventory_source",    "vax_refusal",
    "refusal_reason",        "cmorbid_status",      "serology",
    "recip_priority_group",  "record_last_modified",
    "ndc_as_sent",  // the NDC exactly as the provider sent it, before unit-of-sale mapping
    // Columns NCVR does not carry (null from the NCVR reader), from CDC CVRS and HL7 VXU.
    "ext_type",                // CVRS data model: D redacted, I identified, P PPRL
    "pprl_id",                 // privacy-preserving record-linkage id (ext_type P)
    "dose_num",                // valid dose number: 1-6, INV, UNK (CVRS 31, OBX 30973-2)
    "vax_series_complete",     // YES, NO, UNK (CVRS 32, OBX 59783-1)
    "responsible_org",         // parent organization accountable for the record (CVRS 33, MSH-22)
    "admin_type",              // administering site type 1-28 or UNK (CVRS 36, RXA-11.6)
    "admin_address_street",    // administering site address (CVRS 37-42, RXA-11.9-16)
    "admin_address_street_2",
    "admin_address_city",
    "admin_address_county",    // 5-digit FIPS
    "admin_address_state",
    "admin_address_zip",
    "funding_source",          // VXU OBX 30963-3: VXC1 federal, VXC2 state, ...
    "funding_eligibility",     // VXU OBX 64994-7 (HL7 0064: V01, V02, ...)
    "information_source",      // VXU RXA-9 (NIP001: 00 new record, 01-08 historical)
    "completion_status",       // VXU RXA-20 (CP complete, RE refused, NA, PA)
    // What the record states: null or VACCINATION (a dose or refusal, with its recipient), or
    // DEMOGRAPHICS (only the recipient: HL7 ADT, or a VXU without an order group). Sinks
    // update the recipient from a DEMOGRAPHICS record and store no vaccination.
    "record_type",
};

}  // namespace vaxetl::canonical
