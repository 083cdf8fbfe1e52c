// Shared fixtures: the shipped catalog, sample files, and a valid VXU to mutate.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "ncvr/product_catalog.hpp"
#include "ncvr/value_checks.hpp"

namespace vaxetl::vxu::testing {

inline const std::string kSamples = VAXETL_SOURCE_DIR "/tests/fixtures/samples/";

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline const ncvr::ProductCatalog& catalog() {
  static const ncvr::ProductCatalog c =
      ncvr::ProductCatalog::load(VAXETL_SOURCE_DIR "/plugins/ncvr/data/products.tsv");
  return c;
}

inline constexpr ncvr::Date kToday{2021, 6, 1};

// One COVID-19 dose, valid as built, segments joined by CR.
inline std::string valid_vxu() {
  return "MSH|^~\\&|NCEHR|NCCLINIC001|CVMS|NCDHHS|20210315101500-0500||VXU^V04^VXU_V04|MSG0001|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r"
         "PID|1||MRN0001^^^NCEHR^MR~PPRL123^^^CDC^PPRL||Doe^Jane^Q^JR^^^L||19800517|F||2106-3^White^CDCREC|"
         "1 Main St^Apt 2^Raleigh^NC^27601^USA^L^^37183||^PRN^PH^^^919^5550123~^NET^X.400^jane@example.org|"
         "|eng^English^ISO639|||||||2186-5^Not Hispanic or Latino^CDCREC\r"
         "NK1|1|Doe^John^^^^^L|FTH^Father^HL70063\r"
         "ORC|RE||EVT-0001^NCEHR|||||||^Clerk^Casey\r"
         "RXA|0|1|20210315||208^Pfizer^CVX^59267-1000-01^Pfizer vial^NDC|0.3|mL^mL^UCUM||00^New^NIP001|"
         "1234567893^Nurse^Pat^^^^^^NPI^L|^^^Acme Pharmacy&nca123456^^12^^^2 Oak St^Suite 1^Cary^NC^27513^^^37183||||"
         "EN6201|20210630|PFR^Pfizer^MVX|||CP|A\r"
         "RXR|C28161^Intramuscular^NCIT^IM^IM^HL70162|LD^Left Deltoid^HL70163\r"
         "OBX|1|CE|64994-7^Eligibility^LN|1|V01^Not VFC^HL70064||||||F\r"
         "OBX|2|CE|30963-3^Funding source^LN|2|VXC2^State funds^CDCPHINVS||||||F\r"
         "OBX|3|DT|29768-9^VIS edition^LN|3|20201211||||||F\r"
         "OBX|4|DT|29769-7^VIS given^LN|3|20210315||||||F\r"
         "OBX|5|NM|30973-2^Dose number^LN|4|1||||||F\r"
         "OBX|6|CE|59783-1^Series status^LN|5|N^No^CDCPHINVS||||||F\r"
         "OBX|7|CE|VXC8^Special risk group^PHINVS|6|Y^Yes^HL70136||||||F\r"
         "OBX|8|CE|75505-8^Serology^LN|7|840535000^SARS-CoV-2 antibody^SCT||||||F\r";
}

// A demographic update for another recipient, as an EHR's registration interface sends it
// (HL7 2.5.1 ADT^A04 = register a patient; structure ADT_A01): MSH, EVN, PID, PD1, NK1, PV1.
// `event` is A04, A08, A28 or A31 (A28/A31 use structure ADT_A05). Segments joined by CR.
inline std::string valid_adt(const std::string& event = "A04") {
  const std::string structure = (event == "A28" || event == "A31") ? "ADT_A05" : "ADT_A01";
  return "MSH|^~\\&|NCEHR|NCCLINIC001|CVMS|NCDHHS|20210316091500-0500||ADT^" + event + "^" + structure +
         "|ADT0001|P|2.5.1|||AL|NE\r"
         "EVN|" + event + "|20210316091500-0500|||CLERK01^Clerk^Casey\r"
         "PID|1||MRN0002^^^NCEHR^MR~PPRL456^^^CDC^PPRL||Roe^Richard^A^III^^^L|Smith^^^^^^M|20150302|M||"
         "2054-5^Black or African American^CDCREC~2106-3^White^CDCREC|"
         "22 Elm St^Unit B^Durham^NC^27701^USA^H^^37063||^PRN^PH^^^919^5550177~^NET^Internet^rroe@example.org|"
         "|spa^Spanish^ISO639|||||||2135-2^Hispanic or Latino^CDCREC\r"
         "PD1|||||||||||02^Reminder/recall - any method^HL70215|N|20210316|||A^Active^HL70441|20210316\r"
         "NK1|1|Roe^Maria^^^^^L|MTH^Mother^HL70063|22 Elm St^Unit B^Durham^NC^27701^USA^H|^PRN^PH^^^919^5550177\r"
         "PV1|1|O||||||||||||||||||V02^20210316\r";
}

// Replaces the first occurrence of `from` with `to`, failing loudly when absent.
inline std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::invalid_argument("fixture lacks: " + from);
  return text.replace(at, from.size(), to);
}

}  // namespace vaxetl::vxu::testing
