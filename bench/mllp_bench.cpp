// MLLP listener throughput: N concurrent loopback clients send small VXU-like messages
// synchronously (each waits for its ACK, as spec C.1 requires) through MllpServer into the
// durable inbox (WAL, synchronous=FULL, group commit). Prints messages/s and ACK latency.
//
// usage: mllp_bench [messages=100000] [clients=16] [inbox.db]
//
// Against a running `vaxetl serve` instead (real VXU validation ACKs, loading alongside):
//   MLLP_BENCH_PORT=2575 MLLP_BENCH_MESSAGES=file.hl7 mllp_bench [messages] [clients]
// where file.hl7 holds one message per line (vaxetl_convert --to vxu writes that); they are
// sent round-robin with fresh MSH-10 control ids.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "mllp/hl7_ack.hpp"
#include "mllp/inbox_queue.hpp"
#include "mllp/mllp_client.hpp"
#include "mllp/mllp_server.hpp"

namespace {

std::string message(const std::string& control_id) {
  return "MSH|^~\\&|BENCHEHR|BENCHCLINIC|NCIR|NCDHHS|20260101120000-0500||VXU^V04^VXU_V04|" + control_id +
         "|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r"
         "PID|1||B0001^^^BENCHEHR^MR||BENCH^PATIENT||19800101|F\r"
         "ORC|RE||ORD0001^BENCHEHR\r"
         "RXA|0|1|20210115|20210115|208^COVID-19 PFR^CVX|0.3|mL^mL^UCUM||00^New record^NIP001||||||EL1234||PFR^Pfizer^MVX|||CP|A\r";
}

// Replaces MSH-10 (the 10th |-field of the first segment) with `control_id`.
std::string with_control_id(const std::string& message, const std::string& control_id) {
  std::size_t at = 0;
  for (int field = 0; field < 9 && at != std::string::npos; ++field) at = message.find('|', at + 1);
  const std::size_t end = at == std::string::npos ? at : message.find('|', at + 1);
  if (at == std::string::npos || end == std::string::npos) return message;
  std::string out = message.substr(0, at + 1);
  out.append(control_id).append(message, end, std::string::npos);
  return out;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  const int total = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int clients = argc > 2 ? std::stoi(argv[2]) : 16;
  const std::filesystem::path db =
      argc > 3 ? std::filesystem::path(argv[3])
               : std::filesystem::temp_directory_path() / (std::string("mllp_bench_").append(std::to_string(::getpid())).append(".db"));
  const bool remove_db = argc <= 3;
  spdlog::set_level(spdlog::level::warn);
  const char* external_port = std::getenv("MLLP_BENCH_PORT");
  std::vector<std::string> samples;
  if (const char* file = std::getenv("MLLP_BENCH_MESSAGES")) {
    std::ifstream in(file, std::ios::binary);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) samples.push_back(line);
  }

  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::atomic<int> failures{0};
  double seconds = 0;
  int64_t stored = 0;
  uint64_t commits = 0;
  {
    vaxetl::mllp::InboxQueue queue{vaxetl::mllp::InboxConfig(db.string())};
    vaxetl::mllp::MllpConfig config;
    config.port = 0;
    config.max_connections = clients + 4;
    vaxetl::mllp::MllpServer server(config, queue);
    uint16_t port = 0;
    if (external_port != nullptr) {
      port = static_cast<uint16_t>(std::stoi(external_port));
    } else {
      server.start();
      port = server.port();
    }

    const auto begin = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        const int count = total / clients + (t < total % clients ? 1 : 0);
        auto& lat = latencies[static_cast<std::size_t>(t)];
        lat.reserve(static_cast<std::size_t>(count));
        vaxetl::mllp::MllpClient client("127.0.0.1", port);
        for (int i = 0; i < count; ++i) {
          // Built by append: `"literal" + std::string` trips GCC 12's -Wrestrict false positive.
          std::string id("B");
          id.append(std::to_string(t)).append(".").append(std::to_string(i));
          const std::string m =
              samples.empty() ? message(id)
                              : with_control_id(samples[static_cast<std::size_t>(i) % samples.size()], id);
          const auto sent = std::chrono::steady_clock::now();
          const auto ack = vaxetl::mllp::read_ack(client.send(m));
          lat.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - sent).count());
          if (!ack || ack->code != "AA" || ack->control_id != id) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    server.stop();
    stored = external_port != nullptr ? total : queue.counts().queued;
    commits = queue.commits();
  }
  if (remove_db) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db.string() + suffix);
  }

  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  const double p50 = percentile(all, 0.50);
  const double p99 = percentile(all, 0.99);
  const double max = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  std::printf("mllp_bench: %d messages, %d clients, %.2f s\n", total, clients, seconds);
  std::printf("  throughput   %.0f messages/s\n", total / seconds);
  std::printf("  ACK latency  p50 %.0f us, p99 %.0f us, max %.0f us\n", p50, p99, max);
  std::printf("  inbox        %lld rows in %llu commits (%.1f per commit), %d bad ACKs\n",
              static_cast<long long>(stored), static_cast<unsigned long long>(commits),
              commits ? static_cast<double>(stored) / static_cast<double>(commits) : 0.0, failures.load());
  return failures.load() == 0 && stored == total ? 0 : 1;
}
