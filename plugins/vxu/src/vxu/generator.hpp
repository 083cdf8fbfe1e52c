// Deterministic synthetic VXU^V04 messages (COVID-19 doses, NC addresses, CR segment ends):
// for tests, the integration test and bench/vxu_parse_bench. No real person's data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vaxetl::vxu {

struct GeneratorOptions {
  std::uint64_t seed = 20261121;
  // Share of messages that carry a second order group (a second dose).
  double second_dose_rate = 0.2;
  // Share of messages with a deliberate error that rejects their first order group (an
  // unknown CVX) — the integration test counts these.
  double bad_group_rate = 0.0;
};

class VxuGenerator {
 public:
  explicit VxuGenerator(GeneratorOptions options = {}) : options_(options), state_(options.seed) {}

  // Appends message number `ordinal` (1-based; it makes MSH-10, MRN and ORC-3 unique).
  // Returns how many order groups it wrote, and sets `bad` when the first one is rejected.
  std::size_t append(std::size_t ordinal, std::string& out, bool* bad = nullptr);

 private:
  std::uint64_t next() noexcept;
  std::size_t pick(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }
  double unit() noexcept { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

  GeneratorOptions options_;
  std::uint64_t state_;
};

}  // namespace vaxetl::vxu
