#include "ncvr/product_catalog.hpp"

#include <algorithm>
#include <array>

#include "ncvr/layout.hpp"
#include "ncvr/value_checks.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {
namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool is_full_ndc(std::string_view text) {
  return text.size() == 13 && text[5] == '-' && text[10] == '-' &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || c == '-'; });
}

// Reads one reference of an "also" clause at the front of `text`: a full 5-4-2 NDC, or "-NN"
// meaning the package NN of `prefix_source`'s 5-4 prefix. Consumes it; empty when none.
std::string take_ndc_reference(std::string_view& text, std::string_view prefix_source) {
  if (text.size() >= 13 && is_full_ndc(text.substr(0, 13))) {
    std::string ndc(text.substr(0, 13));
    text.remove_prefix(13);
    return ndc;
  }
  if (text.size() >= 3 && text[0] == '-' && is_digit(text[1]) && is_digit(text[2]) &&
      (text.size() == 3 || !is_digit(text[3]))) {
    std::string ndc(prefix_source.substr(0, 11));
    ndc.append(text.substr(1, 2));
    text.remove_prefix(3);
    return ndc;
  }
  return {};
}

void skip_spaces(std::string_view& text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
}

}  // namespace

void ProductCatalog::add(std::string_view ndc, std::string_view unit_of_sale, bool is_unit_of_use,
                         const std::string& cvx, const std::string& mvx, const std::string& where) {
  std::array<char, 13> normalized{};
  if (!normalize_ndc(ndc, normalized))
    throw LayoutError(where + ": '" + std::string(ndc) + "' is not an NDC in 5-4-2 form");
  const std::uint64_t key = ndc_key(ndc);
  for (const NdcEntry& existing : entries_) {
    if (existing.key != key) continue;
    // The same vial code behind two packs of one product is expected; anything else is a typo.
    if (existing.is_unit_of_use && is_unit_of_use && existing.cvx == cvx) return;
    throw LayoutError(where + ": NDC " + std::string(ndc) + " is listed twice with different roles");
  }
  entries_.push_back(NdcEntry{key, std::string(normalized.data(), normalized.size()),
                              std::string(unit_of_sale), is_unit_of_use, cvx, mvx});
}

ProductCatalog ProductCatalog::load(const std::string& path) {
  sdk::DataTable table;
  std::size_t cvx_column = 0, mvx_column = 0, sale_column = 0, use_column = 0, note_column = 0;
  try {
    table = sdk::DataTable::load(path);
    cvx_column = table.column("cvx");
    mvx_column = table.column("mvx");
    sale_column = table.column("ndc_unit_of_sale");
    use_column = table.column("ndc_unit_of_use");
    note_column = table.column("note");
  } catch (const LayoutError&) {
    throw;
  } catch (const std::exception& error) {
    throw LayoutError(path + ": " + error.what());
  }

  ProductCatalog catalog;
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = path + ": data row " + std::to_string(row + 1);
    const std::string& cvx = cells[cvx_column];
    const std::string& mvx = cells[mvx_column];
    const std::string& sale = cells[sale_column];
    const std::string& use = cells[use_column];
    if (cvx.empty() || mvx.empty()) throw LayoutError(where + ": cvx and mvx must be given");
    if (!is_full_ndc(sale)) throw LayoutError(where + ": ndc_unit_of_sale must be a 5-4-2 NDC");
    if (!use.empty() && !is_full_ndc(use))
      throw LayoutError(where + ": ndc_unit_of_use must be a 5-4-2 NDC or empty");
    const auto maker = std::find_if(catalog.makers_.begin(), catalog.makers_.end(),
                                    [&cvx](const CvxMaker& m) { return m.cvx == cvx; });
    if (maker == catalog.makers_.end()) catalog.makers_.push_back({cvx, mvx});
    else if (maker->mvx != mvx)
      throw LayoutError(where + ": CVX " + cvx + " has two manufacturers (" + maker->mvx + ", " + mvx + ")");

    catalog.add(sale, sale, false, cvx, mvx, where);
    if (!use.empty()) catalog.add(use, sale, true, cvx, mvx, where);

    // "also A, B / C": each comma-separated reference is another unit of sale; "/ C" names
    // the unit of use of the reference before it. The clause ends at anything else.
    std::string_view note = cells[note_column];
    const std::size_t also = note.find("also ");
    if (also == std::string_view::npos) continue;
    note.remove_prefix(also + 5);
    std::string last_sale = sale;
    for (;;) {
      skip_spaces(note);
      const std::string extra_sale = take_ndc_reference(note, last_sale);
      if (extra_sale.empty()) break;
      catalog.add(extra_sale, extra_sale, false, cvx, mvx, where);
      last_sale = extra_sale;
      skip_spaces(note);
      if (!note.empty() && note.front() == '/') {
        note.remove_prefix(1);
        skip_spaces(note);
        const std::string extra_use = take_ndc_reference(note, last_sale);
        if (extra_use.empty()) throw LayoutError(where + ": note has '/' without a unit-of-use NDC after it");
        catalog.add(extra_use, extra_sale, true, cvx, mvx, where);
        skip_spaces(note);
      }
      if (note.empty() || note.front() != ',') break;
      note.remove_prefix(1);
    }
  }
  std::sort(catalog.entries_.begin(), catalog.entries_.end(),
            [](const NdcEntry& a, const NdcEntry& b) { return a.key < b.key; });
  return catalog;
}

const ProductCatalog::NdcEntry* ProductCatalog::find_ndc(std::uint64_t key) const noexcept {
  const auto found = std::lower_bound(entries_.begin(), entries_.end(), key,
                                      [](const NdcEntry& e, std::uint64_t k) { return e.key < k; });
  return found != entries_.end() && found->key == key ? &*found : nullptr;
}

bool ProductCatalog::has_cvx(std::string_view cvx) const noexcept {
  return !manufacturer_of(cvx).empty();
}

bool ProductCatalog::is_manufacturer(std::string_view cvx, std::string_view mvx) const noexcept {
  const std::string_view maker = manufacturer_of(cvx);
  return !maker.empty() && maker == mvx;
}

std::string_view ProductCatalog::manufacturer_of(std::string_view cvx) const noexcept {
  for (const CvxMaker& maker : makers_)
    if (maker.cvx == cvx) return maker.mvx;
  return {};
}

std::string ProductCatalog::unit_of_sale_list(std::string_view cvx) const {
  std::string list;
  for (const NdcEntry& entry : entries_) {
    if (entry.cvx != cvx || entry.is_unit_of_use) continue;
    if (!list.empty()) list += ", ";
    list += entry.ndc;
  }
  return list;
}

}  // namespace vaxetl::ncvr
