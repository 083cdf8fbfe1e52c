#include "transport/curl_session.hpp"

#include <mutex>
#include <stdexcept>

#include <curl/curl.h>

namespace vaxetl::transport::detail {

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("libcurl failed to initialise");
  });
}

bool curl_code_is_transient(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSH:  // the SSH layer failed mid-session (dropped connection, channel error)
    case CURLE_AGAIN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:  // the local disk (full, for instance)
    case CURLE_READ_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
      return true;
    default:
      return false;
  }
}

CurlList::CurlList(const std::vector<std::string>& items) {
  for (const auto& item : items) append(item);
}

CurlList::~CurlList() { curl_slist_free_all(static_cast<curl_slist*>(list_)); }

void CurlList::append(const std::string& item) {
  curl_slist* grown = curl_slist_append(static_cast<curl_slist*>(list_), item.c_str());
  if (grown == nullptr) throw std::bad_alloc();
  list_ = grown;
}

std::string url_encode_path(const std::string& path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    std::string segment = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!segment.empty()) {
      char* escaped = curl_easy_escape(nullptr, segment.c_str(), static_cast<int>(segment.size()));
      if (escaped == nullptr) throw std::bad_alloc();
      out += escaped;
      curl_free(escaped);
    }
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

}  // namespace vaxetl::transport::detail
