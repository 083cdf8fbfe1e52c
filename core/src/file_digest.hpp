#pragma once

#include <string>

namespace vaxetl {

// Hex SHA-256 of a file's bytes, read in fixed-size chunks (OpenSSL through Poco::Crypto).
std::string sha256_of_file(const std::string& path);

}  // namespace vaxetl
