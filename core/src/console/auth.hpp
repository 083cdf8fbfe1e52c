// Logins for the operator's page: the users file (PBKDF2-SHA256 hashes), in-memory sessions
// with a CSRF token each, and a limit on failed logins per client address and per user name.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace vaxetl::console {

struct PasswordHash {
  int iterations = 0;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes (32)
};

// Parses "pbkdf2-sha256$iter$salthex$hashhex"; nullopt when malformed.
std::optional<PasswordHash> parse_password_hash(std::string_view text);
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations);
std::string random_token(std::size_t bytes);  // hex of `bytes` random bytes (OpenSSL RAND)
std::string to_hex(std::string_view bytes);

struct Session {
  std::string user;
  std::string csrf_token;
  std::chrono::steady_clock::time_point expires;
};

class Authenticator {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxFailures = 5;                       // per window, per address or name
  static constexpr std::chrono::minutes kFailureWindow{15};
  static constexpr std::chrono::hours kSessionLifetime{8};

  // Empty path: nobody can log in (the page is read-only).
  explicit Authenticator(const std::string& users_file);

  bool enabled() const noexcept { return !users_.empty(); }

  enum class LoginResult { Ok, Refused, TooManyFailures };
  // On Ok, `session_id` is the new session's id (for the cookie).
  LoginResult login(const std::string& client, const std::string& user, const std::string& password,
                    std::string& session_id);
  std::optional<Session> session(const std::string& session_id);
  void logout(const std::string& session_id);

 private:
  bool locked(const std::string& key, Clock::time_point now);
  void record_failure(const std::string& key, Clock::time_point now);

  std::map<std::string, PasswordHash> users_;
  PasswordHash dummy_;  // checked for unknown names, so they take as long as known ones
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
  struct Failures {
    int count = 0;
    Clock::time_point first;
  };
  std::map<std::string, Failures> failures_;
};

}  // namespace vaxetl::console
