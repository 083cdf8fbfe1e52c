// A libcurl easy handle kept for one channel (so the connection is reused), with the error
// classification every curl-based channel shares. Internal to vaxetl_transport.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace vaxetl::transport::detail {

// Calls curl_global_init once per process.
void ensure_curl_initialized();

// Whether a curl result code is worth retrying later (network, timeout, server busy).
bool curl_code_is_transient(int code);

// A curl_slist built from strings, freed with the object.
class CurlList {
 public:
  CurlList() = default;
  explicit CurlList(const std::vector<std::string>& items);
  ~CurlList();
  CurlList(const CurlList&) = delete;
  CurlList& operator=(const CurlList&) = delete;
  void append(const std::string& item);
  void* get() const noexcept { return list_; }

 private:
  void* list_ = nullptr;
};

// Percent-encodes each segment of an absolute path, keeping the slashes.
std::string url_encode_path(const std::string& path);

}  // namespace vaxetl::transport::detail
