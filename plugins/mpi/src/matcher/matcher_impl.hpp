// The matcher's state: interned values per field, masters, blocking postings and the scoring
// tables. Private to plugins/mpi/src/matcher (and its unit tests).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "matcher/matcher_internal.hpp"

namespace vaxetl::mpi::detail {

// The blocking keys. Order is the numbering used in statistics and in the documentation.
enum class KeyType : std::uint8_t {
  NameDob,       // phonetic first or last name + DOB (either name: exchanged names still meet)
  NicknameDob,   // nickname group of the first name + DOB
  NamesYear,     // phonetic first and last (either order) + birth year
  Phone,
  Address,       // house number + street + ZIP (or city)
  Recipient,     // source + recipient id
  Ssn,
  Email,
  DobZip,        // DOB + ZIP
  DobCity,       // DOB + city
  // Fallback keys (see is_fallback_key) from here on.
  Names,         // phonetic first and last (either order): usable without a DOB
  LastZip,       // phonetic last + ZIP
  FirstZip,      // phonetic first + ZIP
  LastCity,      // phonetic last + city
  FirstCity,     // phonetic first + city
  NamesTail,     // phonetic first and last without their first letters (either order)
  ZipLastInitial,   // ZIP + first letter of the last name
  ZipFirstInitial,  // ZIP + first letter of the first name
  EmailUser,     // the part of the email before @ (another domain, a typo in it)
};
inline constexpr std::size_t kKeyTypeCount = 19;
std::string_view key_type_name(KeyType type);
// The key the single-key baseline uses (works on every data set, DOB or not).
inline constexpr KeyType kSingleKey = KeyType::Names;
// Fallback keys are weak (many people share them, so their cap is lower) and are queried only
// when the record has no DOB or the strong keys found nobody: they find people whose DOB and
// names are both mistyped, and serve DOB-less feeds. (Asking them whenever the strong keys'
// candidates did not link cost a third of the throughput and some precision on the generated
// population for no gain on the labelled sets.)
bool is_fallback_key(KeyType type);

struct ValueInfo {
  const char* data = nullptr;
  const std::vector<std::uint32_t>* nicknames = nullptr;  // into ReferenceTables (stable)
  std::uint32_t length = 0;
  std::uint32_t masters = 0;  // active masters holding the value (term frequency)
  std::uint32_t phonetic = 0;
  std::uint32_t phonetic_tail = 0;
  std::uint16_t soundex = 0;
  std::uint8_t split = 0;
};

// Interned values of one field: each distinct normalized value once, with its features.
class ValueStore {
 public:
  std::uint32_t find(std::string_view text) const;
  std::uint32_t intern(Field field, std::string_view text, const ReferenceTables& tables,
                       std::string& scratch);
  ValueView view(std::uint32_t id) const;
  const ValueInfo& info(std::uint32_t id) const { return infos_[id]; }
  ValueInfo& info(std::uint32_t id) { return infos_[id]; }
  std::size_t size() const { return infos_.size(); }
  std::size_t memory_bytes() const;

 private:
  const char* store_text(std::string_view text);
  std::vector<ValueInfo> infos_;
  FlatKeyMap by_hash_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::size_t chunk_used_ = 0;
  std::size_t text_bytes_ = 0;
};

inline constexpr unsigned kFieldShift = 28;
inline constexpr std::uint32_t kValueMask = (1u << kFieldShift) - 1;
inline std::uint32_t pack_value(Field field, std::uint32_t id) {
  return (static_cast<std::uint32_t>(field) << kFieldShift) | id;
}
inline Field packed_field(std::uint32_t packed) { return static_cast<Field>(packed >> kFieldShift); }
inline std::uint32_t packed_id(std::uint32_t packed) { return packed & kValueMask; }

struct MasterData {
  std::vector<std::uint32_t> values;  // packed (field, value id), in the order learned
  bool active = true;
};

// One normalized incoming record.
struct Probe {
  std::array<std::string, kFieldCount> text;
  std::array<ValueView, kFieldCount> view;
  std::array<bool, kFieldCount> present{};
  std::string suffix;
};

using Levels = std::array<std::uint8_t, kFieldCount>;

// EM over candidate pairs' level vectors (two latent classes, conditional independence): m and
// the match share come from the pairs, u from `out` (random pairs) is left as it is. Fields with
// fewer than 20 expected matches among the pairs keep `out`'s m. Deterministic.
void run_em(const std::vector<Levels>& pairs, Model& out, EstimationReport* report);

}  // namespace vaxetl::mpi::detail
