#include "vxu/generator.hpp"

#include <array>
#include <cstdio>
#include <string_view>

namespace vaxetl::vxu {

namespace {

struct Product {
  std::string_view cvx, text, ndc, mvx, mvx_name;
};
constexpr std::array<Product, 5> kProducts = {{
    {"208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL", "59267-1000-02", "PFR", "Pfizer, Inc"},
    {"207", "COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5 mL", "80777-0273-99", "MOD", "Moderna US, Inc."},
    {"212", "COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL", "59676-0580-15", "JSN", "Janssen"},
    {"217", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL, tris-sucrose", "59267-1025-02", "PFR", "Pfizer, Inc"},
    {"221", "COVID-19, mRNA, LNP-S, PF, 50 mcg/0.5 mL", "80777-0275-99", "MOD", "Moderna US, Inc."},
}};
constexpr std::array<std::string_view, 8> kFamily = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis"};
constexpr std::array<std::string_view, 8> kGiven = {"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda"};
constexpr std::array<std::string_view, 4> kCities = {"Raleigh", "Durham", "Charlotte", "Greensboro"};
constexpr std::array<std::string_view, 4> kCounties = {"37183", "37063", "37119", "37081"};
constexpr std::array<std::string_view, 4> kRaces = {"2106-3^White^CDCREC", "2054-5^Black or African American^CDCREC",
                                                    "2028-9^Asian^CDCREC", "2131-1^Other Race^CDCREC"};
constexpr std::array<std::string_view, 4> kSites = {"LD^Left Deltoid^HL70163", "RD^Right Deltoid^HL70163",
                                                    "LA^Left Arm^HL70163", "RA^Right Arm^HL70163"};

}  // namespace

std::uint64_t VxuGenerator::next() noexcept {
  // splitmix64: fast, and good enough to vary synthetic fields.
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::size_t VxuGenerator::append(std::size_t ordinal, std::string& out, bool* bad) {
  char buf[1024];
  const auto ord = static_cast<unsigned long long>(ordinal);
  const std::size_t city = pick(kCities.size());
  const unsigned year = 1940 + static_cast<unsigned>(pick(70));
  const unsigned month = 1 + static_cast<unsigned>(pick(12));
  const unsigned day = 1 + static_cast<unsigned>(pick(28));
  const std::string_view family = kFamily[pick(kFamily.size())];
  const std::string_view given = kGiven[pick(kGiven.size())];
  const unsigned pin = 100000 + static_cast<unsigned>(pick(40));
  const bool is_bad = unit() < options_.bad_group_rate;
  const std::string_view race = kRaces[pick(kRaces.size())];
  if (bad != nullptr) *bad = is_bad;

  int n = std::snprintf(buf, sizeof(buf),
                        "MSH|^~\\&|NCEHR^2.16.840.1.113883.3.72.5.20^ISO|NCCLINIC%03u|CVMS|NCDHHS|"
                        "20210315101500-0500||VXU^V04^VXU_V04|MSG%08llu|P|2.5.1|||ER|AL|||||"
                        "Z22^CDCPHINVS|NCCLINIC%03u^^^^^NCDHHS^XX^^^%u\r",
                        pin % 1000, ord, pin % 1000, pin);
  out.append(buf, static_cast<std::size_t>(n));
  n = std::snprintf(buf, sizeof(buf),
                    "PID|1||MRN%08llu^^^NCEHR^MR||%.*s^%.*s^%c^^^^L||%04u%02u%02u|%c||%.*s|"
                    "%u Main St^^%.*s^NC^27%03u^USA^L^^%.*s||^PRN^PH^^^919^555%04u|||||||||2186-5^Not Hispanic or Latino^CDCREC\r",
                    ord, static_cast<int>(family.size()), family.data(), static_cast<int>(given.size()),
                    given.data(), static_cast<char>('A' + pick(26)), year, month, day, pick(2) ? 'F' : 'M',
                    static_cast<int>(race.size()), race.data(),
                    100 + static_cast<unsigned>(pick(900)), static_cast<int>(kCities[city].size()),
                    kCities[city].data(), static_cast<unsigned>(pick(1000)),
                    static_cast<int>(kCounties[city].size()), kCounties[city].data(),
                    static_cast<unsigned>(pick(10000)));
  out.append(buf, static_cast<std::size_t>(n));
  if (pick(4) == 0) {
    n = std::snprintf(buf, sizeof(buf), "NK1|1|%.*s^Pat^^^^^L|MTH^Mother^HL70063\r",
                      static_cast<int>(family.size()), family.data());
    out.append(buf, static_cast<std::size_t>(n));
  }
  const std::size_t groups = unit() < options_.second_dose_rate ? 2 : 1;
  const Product& product = kProducts[pick(kProducts.size())];
  for (std::size_t g = 0; g < groups; ++g) {
    const unsigned admin_month = 1 + static_cast<unsigned>(pick(9)) + static_cast<unsigned>(g);
    const bool bad_here = is_bad && g == 0;
    n = std::snprintf(buf, sizeof(buf),
                      "ORC|RE||EVT%08llu-%zu^NCEHR|||||||^Clerk^Casey||^Prescriber^Pat^^^^^^NPI^L^^^NPI|||||"
                      "NCCLINIC%03u^NC Clinic^HL70362\r",
                      ord, g + 1, pin % 1000);
    out.append(buf, static_cast<std::size_t>(n));
    n = std::snprintf(buf, sizeof(buf),
                      "RXA|0|1|2021%02u%02u||%.*s^%.*s^CVX^%.*s^%.*s^NDC|0.3|mL^mL^UCUM||00^New Record^NIP001|"
                      "1234567893^Nurse^Nora^^^^^^NPI^L^^^NPI^^^^^^^^RN|^^^NC Clinic %u&NCA%u^^12^^^%u Clinic Rd^^%.*s^NC^27%03u^^^%.*s||||"
                      "EN%04u|2021%02u28|%.*s^%.*s^MVX|||CP|A\r",
                      admin_month, 1 + static_cast<unsigned>(pick(28)),
                      bad_here ? 3 : static_cast<int>(product.cvx.size()), bad_here ? "999" : product.cvx.data(),
                      static_cast<int>(product.text.size()), product.text.data(),
                      bad_here ? 3 : static_cast<int>(product.ndc.size()), bad_here ? "xxx" : product.ndc.data(),
                      static_cast<int>(product.text.size()), product.text.data(), pin, pin,
                      10 + static_cast<unsigned>(pick(90)), static_cast<int>(kCities[city].size()),
                      kCities[city].data(), static_cast<unsigned>(pick(1000)),
                      static_cast<int>(kCounties[city].size()), kCounties[city].data(),
                      static_cast<unsigned>(pick(10000)), admin_month + 2 > 12 ? 12 : admin_month + 2,
                      static_cast<int>(product.mvx.size()), product.mvx.data(),
                      static_cast<int>(product.mvx_name.size()), product.mvx_name.data());
    out.append(buf, static_cast<std::size_t>(n));
    const std::string_view site = kSites[pick(kSites.size())];
    n = std::snprintf(buf, sizeof(buf), "RXR|C28161^Intramuscular^NCIT^IM^Intramuscular^HL70162|%.*s\r",
                      static_cast<int>(site.size()), site.data());
    out.append(buf, static_cast<std::size_t>(n));
    const bool state = pick(5) == 0;
    n = std::snprintf(buf, sizeof(buf),
                      "OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^Not VFC eligible^HL70064||||||F|||2021%02u01|||VXC40^Eligibility captured at the immunization level^CDCPHINVS\r"
                      "OBX|2|CE|30963-3^Vaccine funding source^LN|2|%s||||||F|||2021%02u01\r"
                      "OBX|3|CE|69764-9^Document Type^LN|3|253088698300028811210507^COVID-19 EUA^cdcgs1vis||||||F|||2021%02u01\r"
                      "OBX|4|DT|29769-7^Date Vaccine Information Statement Presented^LN|3|2021%02u01||||||F|||2021%02u01\r"
                      "OBX|5|NM|30973-2^Dose number in series^LN|4|%zu||||||F|||2021%02u01\r",
                      admin_month, state ? "VXC2^State funds^CDCPHINVS" : "VXC1^Federal funds^CDCPHINVS",
                      admin_month, admin_month, admin_month, admin_month, g + 1, admin_month);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return groups;
}

}  // namespace vaxetl::vxu
