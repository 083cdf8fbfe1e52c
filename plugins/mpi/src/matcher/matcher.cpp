// The matcher: normalization of a record into a probe, candidates from the blocking postings,
// Fellegi-Sunter scoring against every value of each candidate, the decision rules, learning
// the record into the index, and EM estimation of m and u.
#include "matcher/matcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "matcher/matcher_impl.hpp"

namespace vaxetl::mpi {

using namespace detail;

namespace detail {

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::NameDob: return "phonetic first or last+dob";
    case KeyType::NicknameDob: return "nickname group+dob";
    case KeyType::NamesYear: return "phonetic first+last+birth year";
    case KeyType::Phone: return "phone";
    case KeyType::Address: return "house number+street+zip";
    case KeyType::Recipient: return "source+recipient id";
    case KeyType::Ssn: return "ssn";
    case KeyType::Email: return "email";
    case KeyType::DobZip: return "dob+zip";
    case KeyType::DobCity: return "dob+city";
    case KeyType::Names: return "phonetic first+last";
    case KeyType::LastZip: return "phonetic last+zip";
    case KeyType::FirstZip: return "phonetic first+zip";
    case KeyType::LastCity: return "phonetic last+city";
    case KeyType::FirstCity: return "phonetic first+city";
    case KeyType::NamesTail: return "phonetic first+last without first letters";
    case KeyType::ZipLastInitial: return "zip+last initial";
    case KeyType::ZipFirstInitial: return "zip+first initial";
    case KeyType::EmailUser: return "email user";
  }
  return "unknown";
}

bool is_fallback_key(KeyType type) { return type >= KeyType::Names; }

// ---- ValueStore ----

namespace {
constexpr std::size_t kChunkSize = 1 << 20;
}

std::uint32_t ValueStore::find(std::string_view text) const {
  std::uint64_t key = FlatKeyMap::nonzero(hash_text(text));
  while (true) {
    const std::uint32_t* id = by_hash_.find(key);
    if (id == nullptr) return kNoValue;
    const ValueInfo& info = infos_[*id];
    if (std::string_view(info.data, info.length) == text) return *id;
    key = FlatKeyMap::nonzero(mix64(key));  // a 64-bit collision: the next key in the chain
  }
}

const char* ValueStore::store_text(std::string_view text) {
  if (text.size() > kChunkSize) text = text.substr(0, kChunkSize);
  if (chunks_.empty() || chunk_used_ + text.size() > kChunkSize) {
    chunks_.push_back(std::make_unique<char[]>(kChunkSize));
    chunk_used_ = 0;
  }
  char* at = chunks_.back().get() + chunk_used_;
  std::memcpy(at, text.data(), text.size());
  chunk_used_ += text.size();
  text_bytes_ += text.size();
  return at;
}

std::uint32_t ValueStore::intern(Field field, std::string_view text, const ReferenceTables& tables,
                                 std::string& scratch) {
  std::uint64_t key = FlatKeyMap::nonzero(hash_text(text));
  while (true) {
    bool inserted = false;
    std::uint32_t& slot = by_hash_.get_or_insert(key, static_cast<std::uint32_t>(infos_.size()), &inserted);
    if (inserted) break;
    const ValueInfo& existing = infos_[slot];
    if (std::string_view(existing.data, existing.length) == text) return slot;
    key = FlatKeyMap::nonzero(mix64(key));
  }
  if (infos_.size() >= kValueMask) throw std::length_error("MPI index: too many values in one field");
  ValueInfo info;
  info.length = static_cast<std::uint32_t>(text.size());
  info.data = store_text(text);
  ValueView view;
  view.text = std::string_view(info.data, info.length);
  compute_features(field, view, tables, scratch);
  info.phonetic = view.phonetic;
  info.phonetic_tail = view.phonetic_tail;
  info.soundex = view.soundex;
  info.split = view.split;
  if (field == Field::FirstName) {
    auto it = tables.nickname_groups.find(view.text);
    if (it != tables.nickname_groups.end()) info.nicknames = &it->second;
  }
  infos_.push_back(info);
  return static_cast<std::uint32_t>(infos_.size() - 1);
}

ValueView ValueStore::view(std::uint32_t id) const {
  const ValueInfo& info = infos_[id];
  ValueView view;
  view.text = std::string_view(info.data, info.length);
  view.id = id;
  view.phonetic = info.phonetic;
  view.phonetic_tail = info.phonetic_tail;
  view.soundex = info.soundex;
  view.split = info.split;
  if (info.nicknames) view.nicknames = std::span<const std::uint32_t>(*info.nicknames);
  return view;
}

std::size_t ValueStore::memory_bytes() const {
  return infos_.capacity() * sizeof(ValueInfo) + by_hash_.memory_bytes() + chunks_.size() * kChunkSize;
}

// Exchanged names keep their starting m in EM: a transposed first name always comes with a
// transposed last name, which breaks the independence EM assumes, and EM then learned them as
// evidence against (FEBRL 3, fake_1000).
bool is_cross_field_level(Field field, std::uint8_t level) {
  return (field == Field::FirstName && level == level::kFirstTransposed) ||
         (field == Field::LastName && level == level::kLastTransposed);
}

// EM over the candidate pairs' level vectors (two latent classes, conditional independence).
// Both m and u are free during EM (u starts from `out`, ideally random-pair u): candidate
// non-matches agree far more often than random pairs, and fixing u at random-pair values
// would push every blocked pair into the match class. Only m and the match share are kept;
// scoring uses u from random pairs (a weight is evidence against a random person).
void run_em(const std::vector<Levels>& pairs, Model& out, EstimationReport* report) {
  constexpr double kPriorPairs = 50.0;
  std::vector<Levels> sorted(pairs);
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::pair<Levels, double>> patterns;  // identical vectors are common
  for (const auto& v : sorted) {
    if (!patterns.empty() && patterns.back().first == v) patterns.back().second += 1;
    else patterns.emplace_back(v, 1.0);
  }
  const Model start = out;
  double p = 0.3;
  std::array<std::vector<double>, kFieldCount> m, u;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    m[f] = start.fields[f].m;
    // u starts from the level shares over all candidate pairs (most are non-matches): fields
    // that blocking makes agree then carry little weight at first, and EM does not settle on
    // "same city" as the match class.
    u[f].assign(m[f].size(), 0.0);
    double present = 0;
    for (const auto& [levels, count] : patterns) {
      if (levels[f] != 0 && levels[f] < u[f].size()) {
        u[f][levels[f]] += count;
        present += count;
      }
    }
    for (std::size_t l = 1; l < u[f].size(); ++l) {
      u[f][l] = present >= 20 ? (u[f][l] + 0.5) / (present + 0.5 * static_cast<double>(u[f].size() - 1))
                              : start.fields[f].u[l];
    }
  }
  std::uint32_t iterations = 0;
  const double n = static_cast<double>(pairs.size());
  std::array<std::vector<double>, kFieldCount> acc_m, acc_u;
  for (; iterations < 500 && n > 0; ++iterations) {
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      acc_m[f].assign(m[f].size(), 0.0);
      acc_u[f].assign(u[f].size(), 0.0);
    }
    double match_mass = 0;
    for (const auto& [levels, count] : patterns) {
      double llr = std::log(p / (1 - p));
      for (std::size_t f = 0; f < kFieldCount; ++f) {
        const std::uint8_t l = levels[f];
        if (l == 0 || l >= m[f].size()) continue;
        llr += std::log(std::max(m[f][l], 1e-12) / std::max(u[f][l], 1e-12));
      }
      llr = std::clamp(llr, -700.0, 700.0);
      const double post = 1.0 / (1.0 + std::exp(-llr));
      match_mass += post * count;
      for (std::size_t f = 0; f < kFieldCount; ++f) {
        const std::uint8_t l = levels[f];
        if (l == 0 || l >= m[f].size()) continue;
        acc_m[f][l] += post * count;
        acc_u[f][l] += (1 - post) * count;
      }
    }
    double change = std::abs(match_mass / n - p);
    p = std::clamp(match_mass / n, 1e-6, 1 - 1e-6);
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      const double total_m = std::accumulate(acc_m[f].begin() + 1, acc_m[f].end(), 0.0);
      const double total_u = std::accumulate(acc_u[f].begin() + 1, acc_u[f].end(), 0.0);
      for (std::size_t l = 1; l < m[f].size(); ++l) {
        // The start counts as kPriorPairs matches seen: a level the sample rarely shows (a
        // transposition, a middle name used as first) keeps about its starting m instead of
        // dropping to nothing and turning from evidence for into evidence against.
        if (total_m >= 20 && !is_cross_field_level(static_cast<Field>(f), static_cast<std::uint8_t>(l))) {
          const double next = (acc_m[f][l] + kPriorPairs * start.fields[f].m[l]) / (total_m + kPriorPairs);
          change = std::max(change, std::abs(next - m[f][l]));
          m[f][l] = std::max(next, 1e-6);
        }
        if (total_u >= 20) u[f][l] = std::max((acc_u[f][l] + 1.0 * start.fields[f].u[l]) / (total_u + 1.0), 1e-9);
      }
    }
    if (change < 1e-7) {
      ++iterations;
      break;
    }
  }
  for (std::size_t f = 0; f < kFieldCount; ++f) out.fields[f].m = m[f];
  out.prior_match = std::clamp(p, 1e-6, 1 - 1e-6);
  out.em_pairs = static_cast<std::uint32_t>(std::min<std::size_t>(pairs.size(), 0xFFFFFFFFu));
  out.em_iterations = iterations;
  if (report) {
    report->pairs = out.em_pairs;
    report->iterations = iterations;
    report->match_share = p;
  }
}

}  // namespace detail

std::string blocking_keys_description(const MatcherSettings& settings) {
  if (settings.single_blocking_key) return std::string(key_type_name(kSingleKey));
  std::string text;
  for (std::size_t k = 0; k < kKeyTypeCount; ++k) {
    if (!text.empty()) text += ", ";
    text += key_type_name(static_cast<KeyType>(k));
  }
  return text;
}

// ====================================================================================
struct Matcher::Impl {
  Impl(std::shared_ptr<const ReferenceTables> tables_in, Model model_in, MatcherSettings settings_in)
      : tables(std::move(tables_in)), settings(settings_in) {
    if (!tables) throw std::invalid_argument("MPI matcher: reference tables are required");
    set_model(std::move(model_in));
  }

  std::shared_ptr<const ReferenceTables> tables;
  MatcherSettings settings;
  Model model;
  std::array<std::vector<double>, kFieldCount> weight;  // log2(m/u) per level, clamped
  std::array<double, kFieldCount> exact_u{};

  std::array<ValueStore, kFieldCount> stores;
  std::vector<MasterData> masters;
  std::vector<MasterId> master_ids;  // index -> id
  FlatKeyMap index_of_id;            // id -> index
  MasterId next_id = 1;
  std::size_t active_masters = 0;

  FlatKeyMap postings;  // blocking key -> master index | list | generic
  std::vector<std::vector<std::uint32_t>> lists;
  std::vector<std::uint32_t> free_lists;
  std::size_t generic_keys = 0;
  std::vector<std::uint32_t> dirty;  // restored masters whose keys are not built yet

  // Scratch reused across records (no per-record allocation once warm).
  Probe probe;
  Probe pair_probe;  // a master seen as a record (ambiguity checks)
  std::string scratch;
  std::vector<std::uint64_t> keys;
  std::vector<std::uint64_t> weak_keys;
  std::vector<std::uint8_t> key_types;
  std::vector<std::uint32_t> gathered;
  struct Candidate {
    std::uint32_t index;
    std::uint32_t hits;
  };
  std::vector<Candidate> candidates;
  std::vector<MasterId> candidate_ids;
  std::vector<std::pair<double, std::uint32_t>> ranked;  // score, position in candidates
  std::vector<Levels> ranked_levels;                      // by position in candidates
  MatchResult result;
  std::vector<IndexChange> change_log;

  bool collecting = false;
  std::vector<Levels> collected;
  std::uint64_t collect_seen = 0;
  std::uint64_t rng_state = 0x2545f4914f6cdd1dULL;

  // Estimation mode: every record becomes its own master; the candidate pairs are kept.
  bool insert_only = false;

  static constexpr std::uint32_t kListBit = 0x80000000u;
  static constexpr std::uint32_t kGeneric = 0xFFFFFFFFu;
  static constexpr std::size_t kMaxCollected = 4'000'000;
  static constexpr double kTfSmoothing = 1000.0;  // pseudo-masters at the average frequency
  static constexpr double kTfUp = 4.0, kTfDown = 8.0;

  // ---------------------------------------------------------------- model
  void set_model(Model m) {
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      const std::size_t levels = level_count(static_cast<Field>(f));
      if (m.fields[f].m.size() != levels || m.fields[f].u.size() != levels) {
        throw std::invalid_argument("MPI model: wrong level count for " +
                                    std::string(field_name(static_cast<Field>(f))));
      }
      weight[f].assign(levels, 0.0);
      for (std::size_t l = 1; l < levels; ++l) {
        const double mm = std::max(m.fields[f].m[l], 1e-9), uu = std::max(m.fields[f].u[l], 1e-12);
        weight[f][l] = std::clamp(std::log2(mm / uu), -12.0, 20.0);
      }
      exact_u[f] = std::max(m.fields[f].u[kLevelExact], 1e-12);
    }
    model = std::move(m);
  }

  static bool has_term_frequency(Field field) {
    return field != Field::Sex && field != Field::RecipientId;
  }

  double exact_weight(std::size_t f, std::uint32_t value_id) const {
    const double base = weight[f][kLevelExact];
    if (!has_term_frequency(static_cast<Field>(f))) return base;
    const double count = stores[f].info(value_id).masters;
    const double share = (count + kTfSmoothing * exact_u[f]) / (static_cast<double>(active_masters) + kTfSmoothing);
    return base + std::clamp(std::log2(exact_u[f] / share), -kTfDown, kTfUp);
  }

  // ---------------------------------------------------------------- normalization
  void normalize(const PersonInput& r, Probe& p) const {
    const ReferenceTables& t = *tables;
    auto at = [&](Field f) -> std::string& { return p.text[static_cast<std::size_t>(f)]; };
    auto set = [&](Field f, bool ok) { p.present[static_cast<std::size_t>(f)] = ok; };
    set(Field::FirstName, normalize_first_name(r.first_name, t, at(Field::FirstName)));
    set(Field::MiddleName, normalize_middle_name(r.middle_name, t, at(Field::MiddleName)));
    set(Field::LastName, normalize_last_name(r.last_name, t, at(Field::LastName), p.suffix));
    set(Field::BirthDate, normalize_date(r.birth_date, t, at(Field::BirthDate)));
    set(Field::Sex, normalize_sex(r.sex, at(Field::Sex)));
    set(Field::Street, normalize_street(r.street, t, at(Field::Street)));
    set(Field::City, normalize_city(r.city, t, at(Field::City)));
    set(Field::Zip, normalize_zip(r.zip, t, at(Field::Zip)));
    set(Field::Phone, normalize_phone(r.phone, t, at(Field::Phone)));
    set(Field::Email, normalize_email(r.email, t, at(Field::Email)));
    set(Field::Ssn, normalize_ssn(r.ssn, t, at(Field::Ssn)));
    set(Field::RecipientId, normalize_recipient_id(r.source, r.recipient_id, t, at(Field::RecipientId)));
  }

  // Features of the probe: from the interned value when known, else computed.
  void prepare(Probe& p) {
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      if (!p.present[f]) {
        p.view[f] = ValueView{};
        continue;
      }
      const std::uint32_t id = stores[f].find(p.text[f]);
      if (id != kNoValue) {
        p.view[f] = stores[f].view(id);
      } else {
        p.view[f] = ValueView{};
        p.view[f].text = p.text[f];
        compute_features(static_cast<Field>(f), p.view[f], *tables, scratch);
      }
    }
  }

  // ---------------------------------------------------------------- blocking keys
  // Calls emit(type, key) for the keys of a person whose values per field are given by
  // values(field) as a span of ValueView (one for a probe, several for a master).
  template <typename Values, typename Emit>
  void for_each_key(Values&& values, Emit&& emit) const {
    auto key = [](KeyType type, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
      std::uint64_t h = mix64(static_cast<std::uint64_t>(type) + 1);
      h = hash_combine(h, a);
      h = hash_combine(h, b);
      h = hash_combine(h, c);
      return FlatKeyMap::nonzero(h);
    };
    auto first = values(Field::FirstName);
    auto last = values(Field::LastName);
    auto dob = values(Field::BirthDate);
    auto zip = values(Field::Zip);
    auto city = values(Field::City);
    auto names_key = [&](KeyType type, const ValueView& f, const ValueView& l, std::uint64_t extra) {
      const std::uint64_t a = std::min(f.phonetic, l.phonetic), b = std::max(f.phonetic, l.phonetic);
      emit(type, key(type, a, b, extra));
    };
    if (settings.single_blocking_key) {
      for (const auto& f : first)
        for (const auto& l : last) names_key(kSingleKey, f, l, 0);
      return;
    }
    for (const auto& d : dob) {
      const std::uint64_t dh = hash_text(d.text);
      const std::uint64_t year = hash_text(d.text.substr(0, 4));
      for (const auto& l : last) emit(KeyType::NameDob, key(KeyType::NameDob, l.phonetic, dh));
      for (const auto& f : first) {
        emit(KeyType::NameDob, key(KeyType::NameDob, f.phonetic, dh));
        std::size_t groups = 0;
        for (std::uint32_t g : f.nicknames) {
          if (++groups > 4) break;
          emit(KeyType::NicknameDob, key(KeyType::NicknameDob, g, dh));
        }
        for (const auto& l : last) names_key(KeyType::NamesYear, f, l, year);
      }
      for (const auto& z : zip) emit(KeyType::DobZip, key(KeyType::DobZip, dh, hash_text(z.text)));
      for (const auto& c : city) emit(KeyType::DobCity, key(KeyType::DobCity, dh, hash_text(c.text)));
    }
    for (const auto& v : values(Field::Phone)) emit(KeyType::Phone, key(KeyType::Phone, hash_text(v.text)));
    for (const auto& v : values(Field::RecipientId)) emit(KeyType::Recipient, key(KeyType::Recipient, hash_text(v.text)));
    for (const auto& v : values(Field::Ssn)) emit(KeyType::Ssn, key(KeyType::Ssn, hash_text(v.text)));
    for (const auto& v : values(Field::Email)) {
      emit(KeyType::Email, key(KeyType::Email, hash_text(v.text)));
      if (v.split > 0) emit(KeyType::EmailUser, key(KeyType::EmailUser, hash_text(v.text.substr(0, v.split))));
    }
    for (const auto& s : values(Field::Street)) {
      if (s.split == 0) continue;  // no house number: too vague
      const std::uint64_t sh = hash_text(s.text);
      if (!zip.empty()) {
        for (const auto& z : zip) emit(KeyType::Address, key(KeyType::Address, sh, hash_text(z.text)));
      } else {
        for (const auto& c : city) emit(KeyType::Address, key(KeyType::Address, sh, hash_text(c.text), 1));
      }
    }
    for (const auto& f : first) {
      for (const auto& l : last) {
        names_key(KeyType::Names, f, l, 0);
        const std::uint64_t a = std::min(f.phonetic_tail, l.phonetic_tail), b = std::max(f.phonetic_tail, l.phonetic_tail);
        emit(KeyType::NamesTail, key(KeyType::NamesTail, a, b));
      }
    }
    for (const auto& z : zip) {
      const std::uint64_t zh = hash_text(z.text);
      for (const auto& l : last) {
        emit(KeyType::LastZip, key(KeyType::LastZip, l.phonetic, zh));
        emit(KeyType::ZipLastInitial, key(KeyType::ZipLastInitial, static_cast<unsigned char>(l.text[0]), zh));
      }
      for (const auto& f : first) {
        emit(KeyType::FirstZip, key(KeyType::FirstZip, f.phonetic, zh));
        emit(KeyType::ZipFirstInitial, key(KeyType::ZipFirstInitial, static_cast<unsigned char>(f.text[0]), zh));
      }
    }
    for (const auto& c : city) {
      const std::uint64_t ch = hash_text(c.text);
      for (const auto& l : last) emit(KeyType::LastCity, key(KeyType::LastCity, l.phonetic, ch));
      for (const auto& f : first) emit(KeyType::FirstCity, key(KeyType::FirstCity, f.phonetic, ch));
    }
  }

  std::uint32_t cap_of(KeyType type) const {
    const std::uint32_t cap = std::max<std::uint32_t>(settings.generic_key_cap, 2);
    return is_fallback_key(type) ? std::max<std::uint32_t>(cap / 8, 2) : cap;
  }

  void add_posting(KeyType type, std::uint64_t key, std::uint32_t master) {
    bool inserted = false;
    std::uint32_t& slot = postings.get_or_insert(key, master, &inserted);
    if (inserted || slot == kGeneric) return;
    if ((slot & kListBit) == 0) {
      if (slot == master) return;
      std::uint32_t list_index;
      if (!free_lists.empty()) {
        list_index = free_lists.back();
        free_lists.pop_back();
      } else {
        list_index = static_cast<std::uint32_t>(lists.size());
        lists.emplace_back();
      }
      lists[list_index] = {slot, master};
      slot = kListBit | list_index;
      return;
    }
    auto& list = lists[slot & ~kListBit];
    if (std::find(list.begin(), list.end(), master) != list.end()) return;
    if (list.size() >= cap_of(type)) {
      // Generic: too many people share it to tell anyone apart; it stops proposing.
      std::vector<std::uint32_t>().swap(list);
      free_lists.push_back(slot & ~kListBit);
      slot = kGeneric;
      ++generic_keys;
      return;
    }
    list.push_back(master);
  }

  // Up to 4 values per field take part in a master's keys (the first learned).
  void build_master_keys(std::uint32_t index) {
    std::array<std::array<ValueView, 4>, kFieldCount> views;
    std::array<std::size_t, kFieldCount> counts{};
    for (std::uint32_t packed : masters[index].values) {
      const auto f = static_cast<std::size_t>(packed_field(packed));
      if (counts[f] < 4) views[f][counts[f]++] = stores[f].view(packed_id(packed));
    }
    for_each_key(
        [&](Field field) {
          const auto f = static_cast<std::size_t>(field);
          return std::span<const ValueView>(views[f].data(), counts[f]);
        },
        [&](KeyType type, std::uint64_t key) { add_posting(type, key, index); });
  }

  void build_dirty_keys() {
    if (dirty.empty()) return;
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    for (std::uint32_t index : dirty) {
      if (masters[index].active) build_master_keys(index);
    }
    dirty.clear();
  }

  // ---------------------------------------------------------------- candidates
  void gather(std::vector<std::uint64_t>& from) {
    std::sort(from.begin(), from.end());
    from.erase(std::unique(from.begin(), from.end()), from.end());
    for (std::uint64_t key : from) {
      const std::uint32_t* slot = postings.find(key);
      if (slot == nullptr || *slot == kGeneric) continue;
      if ((*slot & kListBit) == 0) {
        gathered.push_back(*slot);
      } else {
        const auto& list = lists[*slot & ~kListBit];
        gathered.insert(gathered.end(), list.begin(), list.end());
      }
    }
  }

  // The masters sharing a strong key with the record; those sharing a fallback key too when
  // the record has no DOB or the strong keys found nobody (see is_fallback_key).
  void find_candidates(const Probe& p) {
    keys.clear();
    weak_keys.clear();
    for_each_key(
        [&](Field field) {
          const auto f = static_cast<std::size_t>(field);
          return p.present[f] ? std::span<const ValueView>(&p.view[f], 1) : std::span<const ValueView>();
        },
        [&](KeyType type, std::uint64_t key) { (is_fallback_key(type) ? weak_keys : keys).push_back(key); });
    gathered.clear();
    gather(keys);
    if (!p.present[static_cast<std::size_t>(Field::BirthDate)] || gathered.empty()) gather(weak_keys);
    std::sort(gathered.begin(), gathered.end());
    candidates.clear();
    for (std::size_t i = 0; i < gathered.size();) {
      std::size_t j = i;
      while (j < gathered.size() && gathered[j] == gathered[i]) ++j;
      if (masters[gathered[i]].active) {
        candidates.push_back({gathered[i], static_cast<std::uint32_t>(j - i)});
      }
      i = j;
    }
    const std::size_t limit = std::max<std::uint32_t>(settings.max_candidates, 1);
    if (candidates.size() > limit) {
      // Keep the masters that share the most keys; ties by age (index) for determinism.
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(limit),
                        candidates.end(), [](const Candidate& a, const Candidate& b) {
                          return a.hits != b.hits ? a.hits > b.hits : a.index < b.index;
                        });
      candidates.resize(limit);
    }
  }

  // ---------------------------------------------------------------- comparison
  static bool names_close(std::string_view a, std::string_view b) {
    return a == b || jaro_winkler_at_least(a, b, 0.92) >= 0.92;
  }

  // Levels and weights of the probe against one master; returns the total weight.
  double compare(const Probe& p, std::uint32_t index, Levels& levels,
                 std::array<float, kFieldCount>& weights) const {
    levels.fill(0);
    std::array<double, kFieldCount> best;
    best.fill(-std::numeric_limits<double>::infinity());
    const auto& values = masters[index].values;
    for (std::uint32_t packed : values) {
      const auto f = static_cast<std::size_t>(packed_field(packed));
      if (!p.present[f]) continue;
      const std::uint32_t id = packed_id(packed);
      const ValueView mv = stores[f].view(id);
      const std::uint8_t level = compare_values(static_cast<Field>(f), p.view[f], mv);
      if (level == 0) continue;
      const double w = level == kLevelExact ? exact_weight(f, id) : weight[f][level];
      // The closest agreement over the master's values counts (levels are numbered closest
      // first), whatever the weights: an exact SSN is an exact SSN even when the model happens
      // to weigh a one-digit difference higher. Among equal levels the rarer value counts.
      if (levels[f] == 0 || level < levels[f] || (level == levels[f] && w > best[f])) {
        best[f] = w;
        levels[f] = level;
      }
    }
    constexpr auto kFirst = static_cast<std::size_t>(Field::FirstName);
    constexpr auto kLast = static_cast<std::size_t>(Field::LastName);
    constexpr auto kMiddle = static_cast<std::size_t>(Field::MiddleName);
    const bool weak_first = p.present[kFirst] && levels[kFirst] != kLevelExact &&
                            levels[kFirst] != level::kFirstNickname && levels[kFirst] != level::kFirstJw92;
    if (weak_first) {
      // Middle used as first name (either side), or first and last exchanged.
      bool middle_as_first = false, first_is_their_last = false, last_is_their_first = false;
      const bool weak_last = p.present[kLast] && levels[kLast] != kLevelExact && levels[kLast] != level::kLastJw92;
      for (std::uint32_t packed : values) {
        const auto f = static_cast<std::size_t>(packed_field(packed));
        const std::string_view text = stores[f].view(packed_id(packed)).text;
        if (f == kMiddle && text.size() > 1 && text == p.text[kFirst]) middle_as_first = true;
        if (f == kFirst && p.present[kMiddle] && p.text[kMiddle].size() > 1 && text == p.text[kMiddle]) {
          middle_as_first = true;
        }
        if (weak_last && f == kLast && names_close(p.text[kFirst], text)) first_is_their_last = true;
        if (weak_last && f == kFirst && names_close(p.text[kLast], text)) last_is_their_first = true;
      }
      // As above, the closer level wins (transposed and middle are closer than disagree).
      auto take = [&](std::size_t f, std::uint8_t level) {
        if (levels[f] == 0 || level < levels[f]) {
          best[f] = weight[f][level];
          levels[f] = level;
        }
      };
      if (first_is_their_last && last_is_their_first) {
        take(kFirst, level::kFirstTransposed);
        take(kLast, level::kLastTransposed);
      } else if (middle_as_first) {
        take(kFirst, level::kFirstMiddle);
      }
    }
    double total = 0;
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      weights[f] = levels[f] == 0 ? 0.0f : static_cast<float>(best[f]);
    }
    // City and ZIP say nearly the same thing: when both agree, the weaker counts a quarter.
    constexpr auto kCity = static_cast<std::size_t>(Field::City);
    constexpr auto kZip = static_cast<std::size_t>(Field::Zip);
    if (weights[kCity] > 0 && weights[kZip] > 0) {
      auto& weaker = weights[kCity] < weights[kZip] ? weights[kCity] : weights[kZip];
      weaker *= 0.25f;
    }
    for (std::size_t f = 0; f < kFieldCount; ++f) total += weights[f];
    return total;
  }

  // ---------------------------------------------------------------- decision
  std::string_view guard_rule(const Levels& lv) const {
    auto at = [&](Field f) { return lv[static_cast<std::size_t>(f)]; };
    const std::uint8_t first = at(Field::FirstName), last = at(Field::LastName), dob = at(Field::BirthDate);
    const std::uint8_t ssn = at(Field::Ssn), phone = at(Field::Phone), email = at(Field::Email);
    const std::uint8_t street = at(Field::Street);
    const bool first_differs = first == level::kFirstDisagree;
    const bool last_differs = last == level::kLastDisagree;
    const bool last_agrees = last == kLevelExact || last == level::kLastJw92 || last == level::kLastPhonetic;
    const bool dob_same = dob == kLevelExact;
    const bool dob_close = dob_same || dob == level::kDateDayMonthSwap || dob == level::kDateOneDigit;
    const bool dob_differs = dob == level::kDateDisagree;
    const bool ssn_same = ssn == kLevelExact;
    // One digit apart but not consecutive numbers (see compare_values): a typo of one SSN.
    const bool ssn_close = ssn_same || ssn == level::kSsnOneDigit;
    const bool rid_same = at(Field::RecipientId) == kLevelExact;
    if (rid_same && ((dob_differs && (first_differs || last_differs)) || (first_differs && last_differs))) {
      return "recipient_id_conflict";
    }
    // Twins: same DOB and surname, clearly another first name, or another sex with a first
    // name that is not the same one. Twins never share an SSN or a provider's recipient id, so
    // either of those agreeing, or an SSN one typo away, means a data error in the name, not a
    // twin (consecutive SSNs, which twins often get, are not a typo: compare_values).
    // Twins are often given similar names (JADEN / JAYDEN, CHRIS / KRIS): a first name that is
    // only similar, with middle names that clearly differ, is a twin too.
    const bool first_similar_only =
        first != kLevelExact && first != 0 && at(Field::MiddleName) == level::kMiddleDisagree;
    if (dob_same && last_agrees && !ssn_close && !rid_same &&
        (first_differs || first_similar_only ||
         (at(Field::Sex) == level::kSexDisagree && first != kLevelExact && first != level::kFirstNickname))) {
      return "twins_guard";
    }
    // Family: another first name and not the same DOB (parent, child, sibling, spouse at the
    // same address; siblings' DOBs are often a digit or the same year apart).
    if (first_differs && !dob_same && !ssn_close && !rid_same) return "family_guard";
    // A DOB only near (same year, or about a year off) is taken for a typo when the first name
    // is the very same, the sex does not differ, the email agrees, and neither phone nor email
    // contradicts. Siblings born soon after often carry similar names (JADEN / JAYDEN, a
    // nickname) and share the household's phone, so neither a similar name nor a phone will do;
    // namesakes elsewhere do not share an email.
    const bool first_same = first == kLevelExact || first == level::kFirstTransposed;
    const bool email_agrees = email == kLevelExact || email == level::kEmailJw92 || email == level::kEmailSameUser;
    const bool contact_contradicts = phone == level::kPhoneDisagree || email == level::kEmailDisagree;
    const bool dob_near = dob == level::kDateYearOnly || dob == level::kDateWithinYear;
    const bool near_dob_is_typo = dob_near && first_same && at(Field::Sex) != level::kSexDisagree && email_agrees &&
                                  !contact_contradicts;
    // About a year off and not taken for a typo: as good as another DOB.
    const bool dob_conflicts = dob_differs || (dob == level::kDateWithinYear && !near_dob_is_typo);
    if (dob_conflicts && !ssn_close && !rid_same) return "dob_conflict";
    // A link needs agreements that belong to the person, not the household (address, city and
    // ZIP are shared by everyone living there): two, or three when a name clearly differs
    // (then a shared street counts as one).
    // Exchanged first and last names are one agreement, not two, and ask for a third: in a
    // big index many people carry each other's names (JAMES THOMAS, THOMAS JAMES).
    const bool transposed = first == level::kFirstTransposed;
    const int personal = (first != 0 && !first_differs) + (last != 0 && !last_differs && !transposed) + dob_close +
                         ssn_close * 2 + rid_same * 2 +
                         (phone == kLevelExact || phone == level::kPhoneOneDigit) + email_agrees;
    // A DOB on both sides that is not (nearly) the same also asks for the third agreement:
    // namesakes born the same year in one town are common (unless taken for a typo, above).
    const bool doubtful = first_differs || last_differs || transposed || (dob != 0 && !dob_close && !near_dob_is_typo);
    const int street_bonus = doubtful && (street == kLevelExact || street == level::kStreetJw92) ? 1 : 0;
    if (personal + street_bonus < (doubtful ? 3 : 2)) return "too_little_data";
    return {};
  }

  // Fills `out` with a master's first value of each field, as if it were a record.
  void probe_from_master(std::uint32_t index, Probe& out) const {
    out.present.fill(false);
    for (std::uint32_t packed : masters[index].values) {
      const auto f = static_cast<std::size_t>(packed_field(packed));
      if (out.present[f]) continue;
      out.present[f] = true;
      out.view[f] = stores[f].view(packed_id(packed));
      out.text[f].assign(out.view[f].text);
      out.view[f].text = out.text[f];
    }
  }

  // Two masters one record matches equally well: one person indexed twice (an earlier miss,
  // safe to link to the better) when they would link to each other; else truly ambiguous.
  bool masters_look_alike(std::uint32_t a, std::uint32_t b) {
    probe_from_master(a, pair_probe);
    Levels levels;
    std::array<float, kFieldCount> weights;
    const double s = compare(pair_probe, b, levels, weights);
    return s >= model.link_threshold && guard_rule(levels).empty();
  }

  // Scores the probe against its candidates and fills `result` (no learning).
  void score(const Probe& p) {
    build_dirty_keys();
    find_candidates(p);
    result = MatchResult{};
    result.candidates = static_cast<std::uint32_t>(candidates.size());
    ranked.clear();
    Levels levels;
    std::array<float, kFieldCount> weights;
    Levels best_levels{};
    std::array<float, kFieldCount> best_weights{};
    double best_score = -std::numeric_limits<double>::infinity();
    std::uint32_t best_index = 0;
    ranked_levels.clear();
    for (const Candidate& c : candidates) {
      const double s = compare(p, c.index, levels, weights);
      ranked.emplace_back(s, static_cast<std::uint32_t>(ranked_levels.size()));
      ranked_levels.push_back(levels);
      if (collecting) collect(levels);
      if (s > best_score || (s == best_score && c.index < best_index)) {
        best_score = s;
        best_index = c.index;
        best_levels = levels;
        best_weights = weights;
      }
    }
    std::sort(ranked.begin(), ranked.end(), [this](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return candidates[a.second].index < candidates[b.second].index;  // ties: the older master
    });
    candidate_ids.clear();
    for (const auto& [s, at] : ranked) candidate_ids.push_back(master_ids[candidates[at].index]);
    if (ranked.empty()) {
      result.decision = Decision::New;
      return;
    }
    result.score = best_score;
    result.best_candidate = master_ids[best_index];
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      result.comparison[f].level = best_levels[f];
      result.comparison[f].weight = best_weights[f];
    }
    if (ranked.size() > 1) {
      result.runner_up_score = ranked[1].first;
      result.runner_up = master_ids[candidates[ranked[1].second].index];
    }
    if (best_score >= model.link_threshold) {
      const std::string_view rule = guard_rule(best_levels);
      // The runner-up that matters could itself be linked: a guarded one (a twin) does not
      // compete. Two masters that both clear the threshold by far are one person indexed twice
      // (an earlier miss): linking to the better one is right.
      double rival = -std::numeric_limits<double>::infinity();
      std::uint32_t rival_index = kNoValue;
      for (std::size_t i = 1; i < ranked.size(); ++i) {
        if (ranked[i].first < best_score - model.runner_up_margin) break;
        if (guard_rule(ranked_levels[ranked[i].second]).empty()) {
          rival = ranked[i].first;
          rival_index = candidates[ranked[i].second].index;
          break;
        }
      }
      const bool rival_is_same_person =
          rival_index != kNoValue && masters_look_alike(candidates[ranked[0].second].index, rival_index);
      if (!rule.empty()) {
        result.decision = Decision::Possible;
        result.rule = rule;
      } else if (best_score - rival < model.runner_up_margin && !rival_is_same_person) {
        result.decision = Decision::Possible;
        result.rule = "ambiguous_runner_up";
      } else {
        result.decision = Decision::Linked;
        result.mpi_id = result.best_candidate;
      }
    } else if (best_score >= model.new_threshold) {
      result.decision = Decision::Possible;
    } else {
      result.decision = Decision::New;
    }
  }

  // ---------------------------------------------------------------- learning
  std::uint32_t create_master(MasterId id) {
    const auto index = static_cast<std::uint32_t>(masters.size());
    if (index >= kListBit) throw std::length_error("MPI index: too many masters");
    masters.emplace_back();
    master_ids.push_back(id);
    index_of_id.get_or_insert(id, index);
    ++active_masters;
    if (id >= next_id) next_id = id + 1;
    return index;
  }

  // Adds a value to a master unless it holds it already; true when added.
  bool add_value(std::uint32_t index, Field field, std::string_view text, bool enforce_cap) {
    const auto f = static_cast<std::size_t>(field);
    auto& values = masters[index].values;
    const std::uint32_t existing = stores[f].find(text);
    std::size_t in_field = 0;
    for (std::uint32_t packed : values) {
      if (packed_field(packed) != field) continue;
      if (packed_id(packed) == existing) return false;
      ++in_field;
    }
    if (enforce_cap && in_field >= std::max<std::uint32_t>(settings.max_values_per_field, 1)) return false;
    const std::uint32_t id = existing != kNoValue ? existing : stores[f].intern(field, text, *tables, scratch);
    values.push_back(pack_value(field, id));
    ++stores[f].info(id).masters;
    return true;
  }

  void learn(const Probe& p, std::uint32_t index, bool is_new) {
    bool added = false;
    const MasterId id = master_ids[index];
    if (is_new && !insert_only) change_log.push_back({IndexChange::Kind::NewMaster, id, Field::FirstName, {}});
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      if (!p.present[f]) continue;
      const auto field = static_cast<Field>(f);
      if (add_value(index, field, p.text[f], true)) {
        added = true;
        if (!insert_only) change_log.push_back({IndexChange::Kind::AddValue, id, field, p.text[f]});
      }
    }
    if (added || is_new) build_master_keys(index);
  }

  const MatchResult& match(const PersonInput& record) {
    normalize(record, probe);
    prepare(probe);
    score(probe);
    if (insert_only || result.decision != Decision::Linked) {
      if (insert_only) {
        result.decision = Decision::New;
        result.rule = {};
      }
      const MasterId id = next_id;
      const std::uint32_t index = create_master(id);
      result.mpi_id = id;
      learn(probe, index, true);
    } else {
      const std::uint32_t* index = index_of_id.find(result.mpi_id);
      learn(probe, *index, false);
    }
    return result;
  }

  const MatchResult& score_only(const PersonInput& record) {
    normalize(record, probe);
    prepare(probe);
    const bool was_collecting = collecting;
    collecting = false;
    score(probe);
    collecting = was_collecting;
    return result;
  }

  // ---------------------------------------------------------------- EM
  void collect(const Levels& levels) {
    ++collect_seen;
    if (collected.size() < kMaxCollected) {
      collected.push_back(levels);
      return;
    }
    // Reservoir sampling with a fixed-seed generator: bounded and deterministic.
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    const std::uint64_t slot = rng_state % collect_seen;
    if (slot < kMaxCollected) collected[slot] = levels;
  }

  // u per level from random pairs of masters (exact level from value frequencies); fields with
  // too little data keep `start`'s u.
  void estimate_u(Model& out, std::uint32_t sample_pairs) const {
    const std::size_t n = masters.size();
    if (n < 50) return;
    std::array<std::vector<double>, kFieldCount> counts;
    for (std::size_t f = 0; f < kFieldCount; ++f) counts[f].assign(level_count(static_cast<Field>(f)), 0.0);
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    auto next = [&]() {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    Probe pseudo;
    Levels levels;
    std::array<float, kFieldCount> weights;
    const std::uint64_t total_pairs = static_cast<std::uint64_t>(n) * (n - 1) / 2;
    const std::uint64_t samples = std::min<std::uint64_t>(sample_pairs, total_pairs * 2);
    for (std::uint64_t s = 0; s < samples; ++s) {
      const auto i = static_cast<std::uint32_t>(next() % n);
      auto j = static_cast<std::uint32_t>(next() % n);
      if (i == j || !masters[i].active || !masters[j].active) continue;
      probe_from_master(i, pseudo);  // master i's first values stand in for a record
      compare(pseudo, j, levels, weights);
      for (std::size_t f = 0; f < kFieldCount; ++f) {
        if (levels[f] != 0) counts[f][levels[f]] += 1;
      }
    }
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      const auto field = static_cast<Field>(f);
      const double total = std::accumulate(counts[f].begin() + 1, counts[f].end(), 0.0);
      if (total < 200) continue;
      // Exact agreement from the value frequencies: sum over values of c(c-1) / (N(N-1)).
      double present = 0, same = 0;
      for (std::size_t id = 0; id < stores[f].size(); ++id) {
        const double c = stores[f].info(static_cast<std::uint32_t>(id)).masters;
        present += c;
        same += c * (c - 1);
      }
      double u_exact = present > 1 ? same / (present * (present - 1)) : 0;
      if (field == Field::Sex || field == Field::RecipientId) u_exact = counts[f][kLevelExact] / total;
      u_exact = std::max(u_exact, 1.0 / std::max(present * present, 1.0));
      const double rest_sampled = total - counts[f][kLevelExact];
      auto& u = out.fields[f].u;
      u[kLevelExact] = u_exact;
      const std::size_t levels_n = u.size();
      for (std::size_t l = 2; l < levels_n; ++l) {
        // Share of the non-exact pairs, with a small pseudo-count so unseen levels stay > 0.
        const double share = (counts[f][l] + 0.1) / (rest_sampled + 0.1 * static_cast<double>(levels_n - 2));
        u[l] = std::max(share * (1.0 - u_exact), 1e-7);
      }
    }
  }

  std::size_t memory_bytes() const {
    std::size_t bytes = masters.capacity() * sizeof(MasterData) + master_ids.capacity() * sizeof(MasterId) +
                        index_of_id.memory_bytes() + postings.memory_bytes() +
                        lists.capacity() * sizeof(std::vector<std::uint32_t>);
    for (const auto& m : masters) bytes += m.values.capacity() * sizeof(std::uint32_t);
    for (const auto& l : lists) bytes += l.capacity() * sizeof(std::uint32_t);
    for (const auto& s : stores) bytes += s.memory_bytes();
    return bytes;
  }
};

// ====================================================================================
Matcher::Matcher(std::shared_ptr<const ReferenceTables> tables, Model model, MatcherSettings settings)
    : impl_(std::make_unique<Impl>(std::move(tables), std::move(model), settings)) {}
Matcher::~Matcher() = default;

void Matcher::restore_value(MasterId master, Field field, std::string_view value) {
  if (master == 0) throw std::invalid_argument("MPI restore: master id 0");
  if (value.empty()) return;
  const std::uint32_t* found = impl_->index_of_id.find(master);
  const std::uint32_t index = found ? *found : impl_->create_master(master);
  impl_->add_value(index, field, value, false);
  impl_->dirty.push_back(index);
}

void Matcher::restore_master(MasterId master) {
  if (master == 0) throw std::invalid_argument("MPI restore: master id 0");
  if (impl_->index_of_id.find(master) == nullptr) impl_->create_master(master);
}

void Matcher::set_next_id(MasterId next) { impl_->next_id = std::max<MasterId>(next, 1); }
MasterId Matcher::next_id() const { return impl_->next_id; }

const MatchResult& Matcher::match(const PersonInput& record) { return impl_->match(record); }
const MatchResult& Matcher::score_only(const PersonInput& record) { return impl_->score_only(record); }

std::span<const IndexChange> Matcher::changes() const { return impl_->change_log; }
void Matcher::clear_changes() { impl_->change_log.clear(); }

void Matcher::merge(MasterId survivor, MasterId retired) {
  if (survivor == retired) return;
  const std::uint32_t* s = impl_->index_of_id.find(survivor);
  const std::uint32_t* r = impl_->index_of_id.find(retired);
  if (!s || !r) throw std::invalid_argument("MPI merge: unknown master");
  const std::uint32_t si = *s, ri = *r;
  if (!impl_->masters[ri].active) return;
  const std::vector<std::uint32_t> moved = std::move(impl_->masters[ri].values);
  impl_->masters[ri].values.clear();
  impl_->masters[ri].active = false;
  --impl_->active_masters;
  for (std::uint32_t packed : moved) {
    const Field field = packed_field(packed);
    const auto f = static_cast<std::size_t>(field);
    auto& info = impl_->stores[f].info(packed_id(packed));
    --info.masters;
    const std::string text(info.data, info.length);
    impl_->add_value(si, field, text, false);
  }
  impl_->dirty.push_back(si);
}

void Matcher::collect_comparisons(bool on) { impl_->collecting = on; }

Model Matcher::reestimate(EstimationReport* report) const {
  Model out = impl_->model;
  impl_->estimate_u(out, 300'000);
  run_em(impl_->collected, out, report);
  return out;
}

std::size_t Matcher::master_count() const { return impl_->active_masters; }
const Model& Matcher::model() const { return impl_->model; }

void Matcher::for_each_value(MasterId master,
                             const std::function<void(Field, std::string_view)>& visit) const {
  const std::uint32_t* index = impl_->index_of_id.find(master);
  if (!index) return;
  for (std::uint32_t packed : impl_->masters[*index].values) {
    const Field field = packed_field(packed);
    visit(field, impl_->stores[static_cast<std::size_t>(field)].view(packed_id(packed)).text);
  }
}

void Matcher::normalized_values(const PersonInput& record,
                                const std::function<void(Field, std::string_view)>& visit) const {
  Probe local;
  impl_->normalize(record, local);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    if (local.present[f]) visit(static_cast<Field>(f), local.text[f]);
  }
}

std::span<const MasterId> Matcher::last_candidates() const { return impl_->candidate_ids; }

Matcher::Stats Matcher::stats() const {
  Stats s;
  s.masters = impl_->active_masters;
  for (const auto& store : impl_->stores) s.values += store.size();
  s.blocking_keys = impl_->postings.size();
  s.generic_keys = impl_->generic_keys;
  s.memory_bytes = impl_->memory_bytes();
  return s;
}

Model estimate_model(std::span<const PersonInput> records, std::shared_ptr<const ReferenceTables> tables,
                     const Model& start, EstimationReport* report, MatcherSettings settings) {
  Matcher::Impl impl(std::move(tables), start, settings);
  impl.insert_only = true;
  impl.collecting = true;
  for (const PersonInput& record : records) impl.match(record);
  Model out = start;
  impl.estimate_u(out, 300'000);
  run_em(impl.collected, out, report);
  return out;
}

}  // namespace vaxetl::mpi
