#include "file_digest.hpp"

#include <Poco/Crypto/DigestEngine.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

namespace vaxetl {

std::string sha256_of_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw std::runtime_error("cannot open input file " + path);
  Poco::Crypto::DigestEngine engine("SHA256");
  std::vector<char> buffer(std::size_t{1} << 20);
  for (;;) {
    const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (got > 0) engine.update(buffer.data(), got);
    if (got < buffer.size()) {
      if (std::ferror(file.get())) throw std::runtime_error("read error on input file " + path);
      break;
    }
  }
  return Poco::Crypto::DigestEngine::digestToHex(engine.digest());
}

}  // namespace vaxetl
