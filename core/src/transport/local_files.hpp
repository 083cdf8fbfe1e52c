// Pieces every channel shares: SHA-256 of bytes, renames that never replace, the names the
// protocol skips (temporary uploads, sidecars), and reading a NAME.sha256 sidecar.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace vaxetl::transport::detail {

// Incremental SHA-256 (OpenSSL EVP), for digests computed while bytes stream in.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::string hex();  // finishes the digest

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_of_file(const std::filesystem::path& path);

// rename(2) that fails with EEXIST instead of replacing `to` (renameat2 RENAME_NOREPLACE).
bool rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to,
                       std::error_code& error);

// Names list_ready() never offers: uploads in progress (*.part, *.tmp, *.filepart, dot-files)
// and checksum sidecars (*.sha256, which travel with their file).
bool is_temporary_name(std::string_view name);
bool is_sidecar_name(std::string_view name);
std::string sidecar_name(std::string_view name);

// The hex digest in a sidecar's text ("HEX" or "HEX  NAME", as sha256sum writes), lower-cased;
// nullopt when the text holds no 64-hex-digit digest.
std::optional<std::string> parse_sha256_sidecar(std::string_view text);

// Step 2's checksum: the downloaded `part` of `file_name` must have the digest its sidecar
// text names. Otherwise removes `part` and throws a TransportError that is not transient.
void check_sidecar(const std::string& file_name, std::string_view sidecar_text, const std::string& digest,
                   const std::filesystem::path& part);

// A name for `name` in a settled-files area that is not taken yet: `name`, then `name.1`, ...
// `taken` answers whether a candidate exists.
template <typename Taken>
std::string free_settled_name(const std::string& name, Taken taken) {
  if (!taken(name)) return name;
  for (int n = 1;; ++n) {
    std::string candidate = name + "." + std::to_string(n);
    if (!taken(candidate)) return candidate;
  }
}

// Lower-case hex of bytes.
std::string to_hex(const unsigned char* bytes, std::size_t size);

}  // namespace vaxetl::transport::detail
