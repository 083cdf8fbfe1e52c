#include "transport/local_files.hpp"

#include "transport/transport.hpp"

#include <fcntl.h>
#include <stdio.h>

#include <array>
#include <cctype>
#include <fstream>
#include <stdexcept>

#include <openssl/evp.h>

namespace vaxetl::transport::detail {

struct Sha256::State {
  EVP_MD_CTX* context = nullptr;
  ~State() { EVP_MD_CTX_free(context); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->context = EVP_MD_CTX_new();
  if (state_->context == nullptr || EVP_DigestInit_ex(state_->context, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256: OpenSSL could not start a digest");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(state_->context, data, size) != 1)
    throw std::runtime_error("SHA-256: OpenSSL digest update failed");
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(state_->context, digest.data(), &length) != 1)
    throw std::runtime_error("SHA-256: OpenSSL digest final failed");
  return to_hex(digest.data(), length);
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0x0f];
  }
  return out;
}

std::string sha256_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.filename().string());
  Sha256 digest;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    if (in.gcount() > 0) digest.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error("cannot read " + path.filename().string());
  return digest.hex();
}

bool rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to,
                       std::error_code& error) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    error.clear();
    return true;
  }
  error = std::error_code(errno, std::generic_category());
  return false;
}

static bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool is_temporary_name(std::string_view name) {
  return name.empty() || name.front() == '.' || ends_with(name, ".part") || ends_with(name, ".tmp") ||
         ends_with(name, ".filepart");
}

bool is_sidecar_name(std::string_view name) { return ends_with(name, ".sha256"); }

std::string sidecar_name(std::string_view name) { return std::string(name) + ".sha256"; }

std::optional<std::string> parse_sha256_sidecar(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  std::size_t end = start;
  while (end < text.size() && std::isxdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end - start != 64) return std::nullopt;
  if (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) return std::nullopt;
  std::string digest(text.substr(start, 64));
  for (char& c : digest) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return digest;
}

void check_sidecar(const std::string& file_name, std::string_view sidecar_text, const std::string& digest,
                   const std::filesystem::path& part) {
  const auto expected = parse_sha256_sidecar(sidecar_text);
  if (expected && *expected == digest) return;
  std::error_code ignored;
  std::filesystem::remove(part, ignored);
  throw TransportError(file_name + (expected ? ": SHA-256 differs from its .sha256 sidecar"
                                             : ": its .sha256 sidecar holds no SHA-256 digest"),
                       /*transient=*/false);
}

}  // namespace vaxetl::transport::detail
