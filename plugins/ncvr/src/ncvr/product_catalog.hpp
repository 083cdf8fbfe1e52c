// The COVID-19 product catalog (products.tsv): which NDCs exist, which CVX and MVX they belong
// to, and the unit-of-sale NDC each unit-of-use (vial) NDC maps to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::ncvr {

class ProductCatalog {
 public:
  // One NDC the catalog knows, in 5-4-2 form.
  struct NdcEntry {
    std::uint64_t key = 0;  // ndc_key() of `ndc`
    std::string ndc;
    std::string unit_of_sale_ndc;  // equals `ndc` for a unit-of-sale code
    bool is_unit_of_use = false;
    std::string cvx;
    std::string mvx;
  };

  // Reads columns cvx, mvx, ndc_unit_of_sale, ndc_unit_of_use and note. The note's "also ..."
  // clause adds packs: "also -03, -04" (same 5-4 prefix, other packages), "also 00069-2025-25"
  // (a full NDC), "also 59267-1404-02 / -01" (a unit of sale / its unit of use).
  // Throws LayoutError on a malformed file or on one NDC claimed by two products.
  static ProductCatalog load(const std::string& path);

  // The entry for a normalized 5-4-2 NDC's key, or nullptr. A unit-of-use code shared by two
  // packs (59267-1000-01) maps to the first pack listed.
  const NdcEntry* find_ndc(std::uint64_t key) const noexcept;
  bool has_cvx(std::string_view cvx) const noexcept;
  bool is_manufacturer(std::string_view cvx, std::string_view mvx) const noexcept;
  // The MVX of `cvx`, or empty.
  std::string_view manufacturer_of(std::string_view cvx) const noexcept;
  // The unit-of-sale NDCs of `cvx`, comma-separated, for messages that say what to send.
  std::string unit_of_sale_list(std::string_view cvx) const;
  const std::vector<NdcEntry>& entries() const noexcept { return entries_; }

 private:
  struct CvxMaker {
    std::string cvx;
    std::string mvx;
  };
  void add(std::string_view ndc, std::string_view unit_of_sale, bool is_unit_of_use,
           const std::string& cvx, const std::string& mvx, const std::string& where);

  std::vector<NdcEntry> entries_;  // sorted by key after load
  std::vector<CvxMaker> makers_;
};

}  // namespace vaxetl::ncvr
