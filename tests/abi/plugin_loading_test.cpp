// load_plugin: descriptor fields are copied faithfully, and every broken library is refused
// with the exact message an operator sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "plugin_registry.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl {
namespace {

using test::fixture_plugin;
using test::fixture_plugin_dir;

// The PluginError text load_plugin throws for `path`, or a test failure if it loads.
std::string refusal(const std::string& path) {
  try {
    load_plugin(path);
  } catch (const PluginError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " loaded, but should have been refused";
  return {};
}

const ConfigFieldSpec& field(const LoadedPlugin& plugin, const std::string& name) {
  auto it = std::find_if(plugin.config_fields.begin(), plugin.config_fields.end(),
                         [&](const ConfigFieldSpec& f) { return f.name == name; });
  if (it == plugin.config_fields.end()) throw std::out_of_range("no config field " + name);
  return *it;
}

const std::string kAbi = std::to_string(VAXETL_ABI_MAJOR) + "." + std::to_string(VAXETL_ABI_MINOR);

TEST(PluginLoading, ReadsSourceDescriptor) {
  const std::string path = fixture_plugin("lines");
  const auto plugin = load_plugin(path);
  EXPECT_EQ(plugin->path, path);
  EXPECT_EQ(plugin->directory, fixture_plugin_dir());
  EXPECT_EQ(plugin->name, "lines");
  EXPECT_EQ(plugin->version, (Version{1, 0, 0}));
  EXPECT_EQ(plugin->kind, VAXETL_KIND_SOURCE);
  EXPECT_EQ(plugin->abi_major, static_cast<uint32_t>(VAXETL_ABI_MAJOR));
  EXPECT_EQ(plugin->abi_minor, static_cast<uint32_t>(VAXETL_ABI_MINOR));
  EXPECT_EQ(plugin->description, "test fixture: one record per line");
  EXPECT_EQ(plugin->license, "MIT");
  EXPECT_EQ(plugin->origin, "vaxetl tests");
  EXPECT_EQ(plugin->label(), "source 'lines' 1.0.0");
  ASSERT_NE(plugin->source, nullptr);
  EXPECT_EQ(plugin->transform, nullptr);
  EXPECT_EQ(plugin->sink, nullptr);
  EXPECT_EQ(plugin->source->struct_size, sizeof(vaxetl_source_api));

  ASSERT_EQ(plugin->config_fields.size(), 1u);
  const ConfigFieldSpec& header = field(*plugin, "header_lines");
  EXPECT_EQ(header.type, VAXETL_CONFIG_INT);
  EXPECT_FALSE(header.required);
  EXPECT_FALSE(header.secret);
  EXPECT_EQ(header.default_value, std::optional<std::string>("0"));
  EXPECT_TRUE(header.allowed_values.empty());

  EXPECT_TRUE(plugin->consumes.empty());
  ASSERT_EQ(plugin->produces.size(), 2u);
  EXPECT_EQ(plugin->produces[0].name, "vax_event_id");
  EXPECT_EQ(plugin->produces[0].format, "u");
  EXPECT_FALSE(plugin->produces[0].required);
  EXPECT_EQ(plugin->produces[1].name, "value");
  EXPECT_EQ(plugin->produces[1].description, "the rest of the line");
}

TEST(PluginLoading, ReadsSinkConfigFieldTable) {
  const auto plugin = load_plugin(fixture_plugin("capture"));
  EXPECT_EQ(plugin->kind, VAXETL_KIND_SINK);
  ASSERT_NE(plugin->sink, nullptr);
  EXPECT_EQ(plugin->source, nullptr);
  ASSERT_EQ(plugin->config_fields.size(), 4u);

  const ConfigFieldSpec& output = field(*plugin, "output");
  EXPECT_EQ(output.type, VAXETL_CONFIG_STRING);
  EXPECT_TRUE(output.required);
  EXPECT_FALSE(output.secret);
  EXPECT_FALSE(output.default_value.has_value());
  EXPECT_EQ(output.description, "file the committed rows are written to");

  const ConfigFieldSpec& format = field(*plugin, "format");
  EXPECT_EQ(format.type, VAXETL_CONFIG_ENUM);
  EXPECT_FALSE(format.required);
  EXPECT_EQ(format.default_value, std::optional<std::string>("tsv"));
  EXPECT_EQ(format.allowed_values, (std::vector<std::string>{"tsv", "csv"}));

  const ConfigFieldSpec& fail = field(*plugin, "fail_on_commit");
  EXPECT_EQ(fail.type, VAXETL_CONFIG_BOOL);
  EXPECT_EQ(fail.default_value, std::optional<std::string>("false"));

  const ConfigFieldSpec& password = field(*plugin, "password");
  EXPECT_EQ(password.type, VAXETL_CONFIG_STRING);
  EXPECT_TRUE(password.secret);
  EXPECT_FALSE(password.required);
  EXPECT_FALSE(password.default_value.has_value());

  ASSERT_EQ(plugin->consumes.size(), 1u);
  EXPECT_EQ(plugin->consumes[0].name, "value");
  EXPECT_TRUE(plugin->consumes[0].required);
  EXPECT_TRUE(plugin->produces.empty());
}

TEST(PluginLoading, ReadsTransformColumns) {
  const auto plugin = load_plugin(fixture_plugin("upper"));
  EXPECT_EQ(plugin->kind, VAXETL_KIND_TRANSFORM);
  ASSERT_NE(plugin->transform, nullptr);
  EXPECT_TRUE(plugin->config_fields.empty());
  ASSERT_EQ(plugin->consumes.size(), 1u);
  EXPECT_EQ(plugin->consumes[0].name, "value");
  EXPECT_EQ(plugin->consumes[0].format, "u");
  EXPECT_TRUE(plugin->consumes[0].required);
  ASSERT_EQ(plugin->produces.size(), 1u);
  EXPECT_EQ(plugin->produces[0].name, "value_upper");
  EXPECT_FALSE(plugin->produces[0].required);
}

TEST(PluginLoading, ReadsVersionFromEachBuildOfOneSource) {
  for (const std::string version : {"1.0.0", "1.1.0", "2.0.0"}) {
    const auto plugin = load_plugin(fixture_plugin("versioned", version));
    EXPECT_EQ(plugin->name, "versioned");
    EXPECT_EQ(plugin->version.str(), version);
    EXPECT_EQ(plugin->description, "test fixture: version " + version);
  }
}

TEST(PluginLoading, RefusesPluginBuiltForOtherAbiMajor) {
  const std::string path = fixture_plugin("wrong_major");
  const std::string plugin_abi = std::to_string(VAXETL_ABI_MAJOR + 1) + ".0";
  EXPECT_EQ(refusal(path),
            "plugin " + path + " was built for vaxetl plugin ABI " + plugin_abi +
                " but this vaxetl speaks ABI " + kAbi +
                " (major versions differ). Fix: install a build of the plugin for ABI " +
                std::to_string(VAXETL_ABI_MAJOR) + ".x, or run a vaxetl release with ABI " +
                std::to_string(VAXETL_ABI_MAJOR + 1) + ".x.");
}

TEST(PluginLoading, RefusesPluginBuiltForNewerAbiMinor) {
  const std::string path = fixture_plugin("newer_minor");
  const std::string plugin_abi =
      std::to_string(VAXETL_ABI_MAJOR) + "." + std::to_string(VAXETL_ABI_MINOR + 1);
  EXPECT_EQ(refusal(path), "plugin " + path + " needs vaxetl plugin ABI " + plugin_abi +
                               ", newer than this vaxetl's ABI " + kAbi +
                               ". Fix: upgrade vaxetl to a release with ABI " + plugin_abi +
                               " or later, or install a build of the plugin made for ABI " +
                               kAbi + ".");
}

TEST(PluginLoading, RefusesLibraryWithoutEntrySymbol) {
  const std::string path = fixture_plugin("no_entry");
  EXPECT_EQ(refusal(path), path +
                               " is not a vaxetl plugin: it does not export "
                               "'vaxetl_plugin_entry'. Fix: export it with "
                               "VAXETL_EXPORT_SOURCE/TRANSFORM/SINK from <vaxetl/sdk/plugin.hpp>.");
}

TEST(PluginLoading, RefusesPluginWithoutDescription) {
  const std::string path = fixture_plugin("no_description");
  EXPECT_EQ(refusal(path),
            "plugin " + path + " has no description; every plugin must describe itself");
}

TEST(PluginLoading, LoadsPluginWhoseOpenFailsSilently) {
  // The defect only shows at run time; the descriptor itself is fine.
  const auto plugin = load_plugin(fixture_plugin("silent_error"));
  EXPECT_EQ(plugin->label(), "source 'silent_error' 1.0.0");
}

TEST(PluginLoading, RefusesFileThatIsNotASharedLibrary) {
  test::TempDir dir;
  const std::string path = dir / "vaxetl_fake-1.0.0.so";
  test::write_file(path, "not an ELF file\n");
  const std::string message = refusal(path);
  const std::string prefix = "cannot load plugin " + path + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  EXPECT_GT(message.size(), prefix.size()) << "the loader's reason is missing";
}

TEST(PluginLoading, RefusesMissingFile) {
  test::TempDir dir;
  const std::string path = dir / "vaxetl_absent-1.0.0.so";
  const std::string message = refusal(path);
  const std::string prefix = "cannot load plugin " + path + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
}

}  // namespace
}  // namespace vaxetl
