#include <gtest/gtest.h>

#include <fstream>

#include "ncvr/product_catalog.hpp"
#include "ncvr/value_checks.hpp"
#include "ncvr_test_support.hpp"

namespace vaxetl::ncvr {
namespace {

using testing::shipped_catalog;

const ProductCatalog::NdcEntry* find(std::string_view ndc) {
  return shipped_catalog().find_ndc(ndc_key(ndc));
}

TEST(ProductCatalog, MapsUnitOfUseToUnitOfSale) {
  const auto* vial = find("59267-1000-01");
  ASSERT_NE(vial, nullptr);
  EXPECT_TRUE(vial->is_unit_of_use);
  EXPECT_EQ(vial->unit_of_sale_ndc, "59267-1000-02");  // the first pack listed
  EXPECT_EQ(vial->cvx, "208");
  const auto* carton = find("59676-0580-15");
  ASSERT_NE(carton, nullptr);
  EXPECT_FALSE(carton->is_unit_of_use);
  EXPECT_EQ(carton->unit_of_sale_ndc, "59676-0580-15");
  EXPECT_EQ(carton->mvx, "JSN");
}

TEST(ProductCatalog, ReadsExtraPackageSuffixesFromTheNote) {
  for (const char* ndc : {"59267-1025-03", "59267-1025-04", "59267-1055-04", "59267-0078-04"}) {
    const auto* entry = find(ndc);
    ASSERT_NE(entry, nullptr) << ndc;
    EXPECT_FALSE(entry->is_unit_of_use) << ndc;
  }
  EXPECT_EQ(find("59267-1025-04")->cvx, "217");
}

TEST(ProductCatalog, ReadsFullNdcAndSaleUsePairsFromTheNote) {
  ASSERT_NE(find("00069-2025-25"), nullptr);
  EXPECT_FALSE(find("00069-2025-25")->is_unit_of_use);
  ASSERT_NE(find("59267-1404-01"), nullptr);
  EXPECT_TRUE(find("59267-1404-01")->is_unit_of_use);
  EXPECT_EQ(find("59267-1404-01")->unit_of_sale_ndc, "59267-1404-02");
  EXPECT_EQ(find("59267-1404-02")->cvx, "300");
  ASSERT_NE(find("80777-0273-15"), nullptr);
  EXPECT_EQ(find("80777-0273-15")->unit_of_sale_ndc, "80777-0273-98");
  EXPECT_FALSE(find("80777-0273-98")->is_unit_of_use);
}

TEST(ProductCatalog, KnowsEachCvxManufacturer) {
  EXPECT_TRUE(shipped_catalog().is_manufacturer("208", "PFR"));
  EXPECT_FALSE(shipped_catalog().is_manufacturer("208", "MOD"));
  EXPECT_EQ(shipped_catalog().manufacturer_of("212"), "JSN");
  EXPECT_EQ(shipped_catalog().unit_of_sale_list("208"), "59267-1000-02, 59267-1000-03");
}

TEST(ProductCatalog, RefusesAnNdcListedWithTwoRoles) {
  const std::string path = ::testing::TempDir() + "/ncvr-products-bad.tsv";
  std::ofstream(path) << "cvx\tmvx\tproduct\tndc_unit_of_sale\tndc_unit_of_use\tdoses_per_vial\tnote\n"
                      << "208\tPFR\tA\t59267-1000-02\t59267-1000-01\t5\t\n"
                      << "208\tPFR\tB\t59267-1000-01\t59267-1000-05\t5\t\n";
  try {
    ProductCatalog::load(path);
    FAIL() << "loaded a catalog with one NDC as both unit of use and unit of sale";
  } catch (const LayoutError& error) {
    EXPECT_NE(std::string(error.what()).find("59267-1000-01"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace vaxetl::ncvr
