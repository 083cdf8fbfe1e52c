// PluginRegistry: version selection across search paths, the not-found explanation, and the
// listing of every library including refused ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "plugin_registry.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

namespace fs = std::filesystem;
using test::fixture_plugin;
using test::fixture_plugin_dir;

VersionConstraint constraint(const std::string& text) {
  auto parsed = VersionConstraint::parse(text);
  if (!parsed) throw std::invalid_argument("bad constraint in test: " + text);
  return *parsed;
}

std::string resolve_error(PluginRegistry& registry, const std::string& name, const std::string& c) {
  try {
    registry.resolve(name, constraint(c));
  } catch (const PluginError& e) {
    return e.what();
  }
  ADD_FAILURE() << name << " " << c << " resolved, but should not have";
  return {};
}

const std::string kFix =
    "\nFix: install the plugin in one of these paths, or add its directory to the pipeline's "
    "plugin_paths or to VAXETL_PLUGIN_PATH.";

TEST(PluginRegistry, CaretPicksHighestMatchingVersion) {
  PluginRegistry registry({fixture_plugin_dir()});
  const auto plugin = registry.resolve("versioned", constraint("^1.0"));
  EXPECT_EQ(plugin->version.str(), "1.1.0");
  EXPECT_EQ(plugin->path, fixture_plugin("versioned", "1.1.0"));
}

TEST(PluginRegistry, TildeStaysWithinMinor) {
  PluginRegistry registry({fixture_plugin_dir()});
  EXPECT_EQ(registry.resolve("versioned", constraint("~1.0"))->version.str(), "1.0.0");
}

TEST(PluginRegistry, CaretOnMajorOnlyPicksThatMajor) {
  PluginRegistry registry({fixture_plugin_dir()});
  EXPECT_EQ(registry.resolve("versioned", constraint("^2"))->version.str(), "2.0.0");
}

TEST(PluginRegistry, ExactVersionPicksThatVersion) {
  PluginRegistry registry({fixture_plugin_dir()});
  EXPECT_EQ(registry.resolve("versioned", constraint("1.0.0"))->version.str(), "1.0.0");
  EXPECT_EQ(registry.resolve("versioned", constraint("=1.1.0"))->version.str(), "1.1.0");
}

TEST(PluginRegistry, AnyVersionPicksHighest) {
  PluginRegistry registry({fixture_plugin_dir()});
  EXPECT_EQ(registry.resolve("versioned", constraint("*"))->version.str(), "2.0.0");
  EXPECT_EQ(registry.resolve("versioned", constraint(">=1.1"))->version.str(), "2.0.0");
}

TEST(PluginRegistry, ResolvingTwiceReusesTheLoadedLibrary) {
  PluginRegistry registry({fixture_plugin_dir()});
  const auto first = registry.resolve("versioned", constraint("^1"));
  const auto second = registry.resolve("versioned", constraint("~1.1"));
  EXPECT_EQ(first.get(), second.get());
}

TEST(PluginRegistry, UnsatisfiableConstraintListsEveryPathAndRefusedCandidate) {
  test::TempDir dir;
  const std::string missing = dir / "no-such-dir";
  const std::string empty = dir / "empty";
  fs::create_directories(empty);
  PluginRegistry registry({missing, empty, fixture_plugin_dir()});
  EXPECT_EQ(resolve_error(registry, "versioned", "^3"),
            "no plugin 'versioned' matching version '^3' was found. Paths tried, in order:\n"
            "  " + missing + "\n"
            "  " + empty + "\n"
            "  " + fixture_plugin_dir() + "\n"
            "Candidates refused:\n"
            "  " + fixture_plugin("versioned", "1.0.0") + ": version 1.0.0 does not satisfy '^3'\n"
            "  " + fixture_plugin("versioned", "1.1.0") + ": version 1.1.0 does not satisfy '^3'\n"
            "  " + fixture_plugin("versioned", "2.0.0") + ": version 2.0.0 does not satisfy '^3'" +
            kFix);
}

TEST(PluginRegistry, UnknownPluginListsPathsWithoutCandidates) {
  test::TempDir dir;
  PluginRegistry registry({dir.path(), fixture_plugin_dir()});
  EXPECT_EQ(resolve_error(registry, "nonexistent", ""),
            "no plugin 'nonexistent' matching version '*' was found. Paths tried, in order:\n"
            "  " + dir.path() + "\n"
            "  " + fixture_plugin_dir() + kFix);
}

TEST(PluginRegistry, RefusedCandidateExplainsItsAbiMismatch) {
  PluginRegistry registry({fixture_plugin_dir()});
  const std::string path = fixture_plugin("newer_minor");
  const std::string message = resolve_error(registry, "newer_minor", "*");
  const std::string reason = "\nCandidates refused:\n  plugin " + path + " needs vaxetl plugin ABI ";
  EXPECT_NE(message.find(reason), std::string::npos) << message;
}

TEST(PluginRegistry, RefusesCandidateWhoseDescriptorNamesAnotherPlugin) {
  test::TempDir dir;
  const std::string impostor = dir / "vaxetl_versioned-9.0.0.so";
  fs::copy_file(fixture_plugin("lines"), impostor);
  PluginRegistry registry({dir.path()});
  EXPECT_EQ(resolve_error(registry, "versioned", "^9"),
            "no plugin 'versioned' matching version '^9' was found. Paths tried, in order:\n"
            "  " + dir.path() + "\n"
            "Candidates refused:\n"
            "  " + impostor + ": declares name 'lines'" + kFix);
}

TEST(PluginRegistry, EarlierSearchPathWinsForEqualVersions) {
  test::TempDir dir;
  const std::string copy = dir / "vaxetl_versioned-2.0.0.so";
  fs::copy_file(fixture_plugin("versioned", "2.0.0"), copy);
  PluginRegistry first_copy({dir.path(), fixture_plugin_dir()});
  EXPECT_EQ(first_copy.resolve("versioned", constraint("^2"))->path, copy);
  PluginRegistry first_original({fixture_plugin_dir(), dir.path()});
  EXPECT_EQ(first_original.resolve("versioned", constraint("^2"))->path,
            fixture_plugin("versioned", "2.0.0"));
}

TEST(PluginRegistry, ListIncludesRefusedPluginsWithTheirReason) {
  PluginRegistry registry({fixture_plugin_dir()});
  std::map<std::string, PluginListing> by_path;
  for (auto& listing : registry.list()) by_path[listing.path] = listing;

  std::size_t libraries = 0;
  for (const auto& entry : fs::directory_iterator(fixture_plugin_dir()))
    libraries += entry.path().extension() == ".so";
  EXPECT_EQ(by_path.size(), libraries);

  for (const std::string name : {"lines", "upper", "capture", "needs_mpi", "throws", "silent_error"}) {
    const PluginListing& listing = by_path.at(fixture_plugin(name));
    ASSERT_NE(listing.plugin, nullptr) << name << ": " << listing.refusal;
    EXPECT_EQ(listing.plugin->name, name);
    EXPECT_TRUE(listing.refusal.empty());
  }
  for (const std::string name : {"wrong_major", "newer_minor", "no_entry", "no_description"}) {
    const std::string path = fixture_plugin(name);
    const PluginListing& listing = by_path.at(path);
    EXPECT_EQ(listing.plugin, nullptr) << name;
    std::string expected;
    try {
      load_plugin(path);
    } catch (const PluginError& e) {
      expected = e.what();
    }
    EXPECT_FALSE(expected.empty()) << name << " loads on its own";
    EXPECT_EQ(listing.refusal, expected);
  }
}

TEST(PluginRegistry, ListsEachLibraryOnceWhenSearchPathsRepeat) {
  PluginRegistry once({fixture_plugin_dir()});
  PluginRegistry twice({fixture_plugin_dir(), fixture_plugin_dir() + "/.", fixture_plugin_dir()});
  EXPECT_EQ(twice.list().size(), once.list().size());
}

}  // namespace
}  // namespace vaxetl
