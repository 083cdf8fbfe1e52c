#include "auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "console.hpp"

namespace vaxetl::console {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return std::nullopt;
    bytes.push_back(static_cast<char>(value));
  }
  return bytes;
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("the random number generator failed");
  return to_hex(raw);
}

std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations) {
  std::string out(32, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        iterations, EVP_sha256(), static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    throw std::runtime_error("PBKDF2 failed");
  return out;
}

std::optional<PasswordHash> parse_password_hash(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto dollar = text.find('$');
    parts.push_back(text.substr(0, dollar));
    if (dollar == std::string_view::npos) break;
    text.remove_prefix(dollar + 1);
  }
  if (parts.size() != 4 || parts[0] != kScheme) return std::nullopt;
  PasswordHash hash;
  const auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), hash.iterations);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || hash.iterations < 1000) return std::nullopt;
  auto salt = from_hex(parts[2]);
  auto digest = from_hex(parts[3]);
  if (!salt || salt->size() < 8 || !digest || digest->size() != 32) return std::nullopt;
  hash.salt = std::move(*salt);
  hash.hash = std::move(*digest);
  return hash;
}

std::string hash_user_line(const std::string& name, const std::string& password, int iterations) {
  if (!valid_user_name(name)) throw std::invalid_argument("a user name is 1-64 characters without ':' or spaces");
  std::string salt(16, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    throw std::runtime_error("the random number generator failed");
  return name + ":" + std::string(kScheme) + "$" + std::to_string(iterations) + "$" + to_hex(salt) + "$" +
         to_hex(pbkdf2_sha256(password, salt, iterations));
}

void set_user_password(const std::string& users_file, const std::string& name, const std::string& password) {
  const std::string line = hash_user_line(name, password);
  std::vector<std::string> lines;
  if (std::ifstream in(users_file); in) {
    for (std::string existing; std::getline(in, existing);)
      if (existing.rfind(name + ":", 0) != 0) lines.push_back(existing);
  }
  lines.push_back(line);
  const std::string temporary = users_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + temporary);
    ::chmod(temporary.c_str(), 0600);
    for (const auto& l : lines) out << l << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, users_file);
}

Authenticator::Authenticator(const std::string& users_file) {
  dummy_.iterations = 600000;
  dummy_.salt = std::string(16, 'x');
  dummy_.hash = std::string(32, '\0');
  if (users_file.empty()) return;
  std::ifstream in(users_file);
  if (!in) throw std::runtime_error("cannot read the users file " + users_file);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    std::optional<PasswordHash> hash;
    if (colon != std::string::npos) hash = parse_password_hash(std::string_view(line).substr(colon + 1));
    if (!hash || !valid_user_name(std::string_view(line).substr(0, colon)))
      throw std::runtime_error("users file " + users_file + " line " + std::to_string(number) +
                               ": expected name:pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX (vaxetl console passwd)");
    users_[line.substr(0, colon)] = std::move(*hash);
  }
}

bool Authenticator::locked(const std::string& key, Clock::time_point now) {
  const auto found = failures_.find(key);
  if (found == failures_.end()) return false;
  if (now - found->second.first > kFailureWindow) {
    failures_.erase(found);
    return false;
  }
  return found->second.count >= kMaxFailures;
}

void Authenticator::record_failure(const std::string& key, Clock::time_point now) {
  auto& f = failures_[key];
  if (f.count == 0 || now - f.first > kFailureWindow) f = Failures{0, now};
  ++f.count;
}

Authenticator::LoginResult Authenticator::login(const std::string& client, const std::string& user,
                                                const std::string& password, std::string& session_id) {
  const auto now = Clock::now();
  const std::string client_key = "addr:" + client;
  const std::string user_key = "user:" + user;
  PasswordHash expected = dummy_;
  bool known = false;
  {
    std::lock_guard lock(mutex_);
    if (locked(client_key, now) || locked(user_key, now)) return LoginResult::TooManyFailures;
    if (const auto found = users_.find(user); found != users_.end()) {
      expected = found->second;
      known = true;
    }
  }
  // The hash runs outside the lock: it takes a while on purpose.
  const std::string actual = pbkdf2_sha256(password, expected.salt, expected.iterations);
  const bool match = known && CRYPTO_memcmp(actual.data(), expected.hash.data(), actual.size()) == 0;
  std::lock_guard lock(mutex_);
  if (!match) {
    record_failure(client_key, now);
    record_failure(user_key, now);
    return LoginResult::Refused;
  }
  failures_.erase(user_key);
  failures_.erase(client_key);
  for (auto it = sessions_.begin(); it != sessions_.end();)  // drop expired sessions now and then
    it = it->second.expires < now ? sessions_.erase(it) : std::next(it);
  session_id = random_token(32);
  sessions_[session_id] = Session{user, random_token(32), now + kSessionLifetime};
  return LoginResult::Ok;
}

std::optional<Session> Authenticator::session(const std::string& session_id) {
  if (session_id.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto found = sessions_.find(session_id);
  if (found == sessions_.end()) return std::nullopt;
  if (found->second.expires < Clock::now()) {
    sessions_.erase(found);
    return std::nullopt;
  }
  return found->second;
}

void Authenticator::logout(const std::string& session_id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(session_id);
}

}  // namespace vaxetl::console
