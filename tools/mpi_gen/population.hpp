// mpi_gen: a streaming, deterministic generator of a synthetic North Carolina patient
// population for the patient-matching benchmark (docs/mpi-population.md).
//
// Every person is a pure function of (seed, person_id): a counter-based RNG keyed by both draws
// the person's names, DOB, address, phone and providers, so a person can be regenerated on
// demand (person()) and the generator never holds the population in memory. Twins and family
// members borrow their shared attributes from an anchor person with a smaller id.
//
// Two streams:
//  - base: persons 1..people once each, as their primary provider last sent them (no injected
//    errors, natural gaps such as no email). This is the index to build.
//  - day: `day_records` records; a share are returning base persons seen again (often by
//    another provider) with injected errors, the rest are new persons (ids above `people`),
//    some of whom appear more than once in the day and some of whom are twins or relatives
//    of base persons.
// Ground truth: PersonRecord::person_id. Two records are the same person iff ids are equal.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

namespace vaxetl::mpi_gen {

// Per-record probabilities of each injected error, applied independently to day records of
// returning persons and to repeats of new persons. Names as in PersonRecord::errors.
struct ErrorRates {
  double name_typo = 0.03;          // "name_typo": keyboard/OCR typo, deletion, insertion
  double nickname = 0.05;           // "nickname": first name replaced by a nickname
  double phonetic = 0.02;           // "phonetic": phonetic misspelling of a name
  double name_swap = 0.01;          // "name_swap": first and last name exchanged
  double dob_typo = 0.01;           // "dob_typo": one digit of the DOB changed
  double dob_day_month_swap = 0.005;// "dob_swap": day and month exchanged (day <= 12)
  double moved = 0.08;              // "moved": a new address (street, city, zip)
  double new_phone = 0.08;          // "new_phone": a new phone number
  double missing_fields = 0.10;     // "missing:street+phone": 1-3 fields not sent
  double married_surname = 0.01;    // "married": surname changed or hyphenated (adults)
  double middle_change = 0.03;      // "middle": middle name dropped, initial only, or added
  double sex_error = 0.003;         // "sex": sex wrong or unknown
};

struct PopulationOptions {
  std::uint64_t people = 1'000'000;     // distinct persons in the base population
  std::uint64_t day_records = 200'000;  // records in the day stream
  double returning_share = 0.6;         // day records of persons already in the base
  double day_repeat_share = 0.05;       // day records of new persons already seen that day
  double twin_share = 0.01;             // share of persons who have a twin
  double family_share = 0.05;           // share of persons living with a relative (same
                                        // surname + address, other DOB and first name)
  double other_provider_share = 0.5;    // returning records sent by another provider
  std::uint32_t providers = 40;         // provider (source) codes PRV001..
  std::uint64_t seed = 1;
  ErrorRates errors;
};

// One record as a provider sent it, all text; empty = not sent. Providers differ in style the
// way real feeds do: upper or mixed case, street suffix abbreviated or spelled out (USPS), phone
// as 9195550123, 919-555-0123 or (919) 555-0123, SSN with or without dashes, ZIP or ZIP+4,
// middle name or initial only.
struct PersonRecord {
  std::uint64_t person_id = 0;  // ground truth
  std::string source, recipient_id, first_name, middle_name, last_name, suffix,
      birth_date /*YYYY-MM-DD*/, sex /*M, F, U*/, street, street_2, city, state, zip, phone,
      email, ssn;
  std::string errors;  // injected errors, ';'-separated, e.g. "nickname;new_phone"; "" = clean
  std::string relation;  // "", "twin:<id>" or "family:<id>": the anchor person this one shares
                         // a household with (truth for twin/family precision checks)
};

class PopulationGenerator {
 public:
  // reference_dir holds the frequency and error tables (tools/mpi_gen/data). Throws
  // std::runtime_error naming the table if one is missing or malformed, std::invalid_argument
  // for options out of range.
  PopulationGenerator(PopulationOptions options, const std::string& reference_dir);
  ~PopulationGenerator();
  PopulationGenerator(PopulationGenerator&&) noexcept;
  PopulationGenerator& operator=(PopulationGenerator&&) noexcept;

  bool next_base(PersonRecord& out);  // persons 1..people in order, then false
  bool next_day(PersonRecord& out);   // the day stream, then false (independent of next_base)

  // The base record of any person (ids above `people` are the day's new persons), exactly as
  // next_base yields it. Const and thread-safe.
  PersonRecord person(std::uint64_t person_id) const;
  // The same person's true data in one fixed style, whatever the provider: upper case, USPS
  // suffix abbreviations, 5-digit ZIP, digits-only phone and SSN, full middle name, and every
  // value the person has (SSN and email even where the primary provider does not send them).
  PersonRecord canonical_person(std::uint64_t person_id) const;

  const PopulationOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The source-tree data directory compiled into the library (tools/mpi_gen/data).
std::string default_reference_dir();

// CSV (RFC 4180: quoted when a value holds a comma, quote, CR or LF). Column order is
// person_id, source, recipient_id, first_name, middle_name, last_name, suffix, birth_date, sex,
// street, street_2, city, state, zip, phone, email, ssn, errors, relation.
void write_csv_header(std::ostream& out);
void write_csv_row(std::ostream& out, const PersonRecord& record);
std::string csv_field(std::string_view value);

}  // namespace vaxetl::mpi_gen
