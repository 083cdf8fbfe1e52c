#include "metrics.hpp"

#include <Poco/Data/Session.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "../db/database.hpp"
#include "../ledger.hpp"
#include "../operations.hpp"

namespace vaxetl::console {

namespace {

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

constexpr std::array<double, 9> kDurationBuckets = {1, 5, 15, 30, 60, 300, 900, 1800, 3600};

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(std::string_view name, const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << '{';
      for (std::size_t i = 0; i < labels.size(); ++i)
        out_ << (i ? "," : "") << labels[i].first << "=\"" << escape_label_value(labels[i].second) << '"';
      out_ << '}';
    }
    out_ << ' ' << number(value) << '\n';
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

std::optional<double> seconds_between(const std::string& from, const std::string& to) {
  try {
    int tz = 0;
    const Poco::DateTime start = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, from, tz);
    const Poco::DateTime end = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, to, tz);
    const double seconds = static_cast<double>((end - start).totalMicroseconds()) / 1e6;
    if (seconds < 0) return std::nullopt;
    return seconds;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_metrics(const MetricsInput& input) {
  Exposition m;
  m.family("vaxetl_ledger_up", "gauge", "1 when the run ledger answers, 0 otherwise.");
  m.sample("vaxetl_ledger_up", {}, input.ledger_up ? 1 : 0);

  if (input.ledger_up) {
    const auto location = db::Location::parse(input.ledger);
    auto session = db::open_session(location, 5000);

    std::vector<std::string> orgs, statuses;
    std::vector<int64_t> files, received, loaded, rejected, held;
    *session << "SELECT org, status, COUNT(*), CAST(SUM(received) AS BIGINT), CAST(SUM(loaded) AS BIGINT),"
                " CAST(SUM(rejected) AS BIGINT), CAST(SUM(held) AS BIGINT) FROM runs GROUP BY org, status ORDER BY org, status",
        into(orgs), into(statuses), into(files), into(received), into(loaded), into(rejected), into(held), now;
    m.family("vaxetl_files", "gauge", "Input files in the run ledger (one per run), by provider and run status.");
    for (std::size_t i = 0; i < orgs.size(); ++i)
      m.sample("vaxetl_files", {{"org", orgs[i]}, {"status", statuses[i]}}, static_cast<double>(files[i]));

    // Records of every run that was not a validation or dry run.
    std::map<std::string, std::array<int64_t, 4>> records;
    for (std::size_t i = 0; i < orgs.size(); ++i) {
      if (statuses[i] == "validated") continue;
      auto& r = records[orgs[i]];
      r[0] += received[i];
      r[1] += loaded[i];
      r[2] += rejected[i];
      r[3] += held[i];
    }
    m.family("vaxetl_records_total", "counter",
             "Records counted by the runs of each provider (validations and dry runs excluded), by outcome.");
    static constexpr std::array<const char*, 4> kOutcomes = {"received", "loaded", "rejected", "held"};
    for (const auto& [org, r] : records)
      for (std::size_t k = 0; k < kOutcomes.size(); ++k)
        m.sample("vaxetl_records_total", {{"org", org}, {"outcome", kOutcomes[k]}}, static_cast<double>(r[k]));

    // Run durations of finished runs, per provider.
    std::vector<std::string> run_orgs, started, ended;
    *session << "SELECT org, started_at, ended_at FROM runs WHERE ended_at IS NOT NULL AND ended_at <> ''"
                " AND status <> 'running'",
        into(run_orgs), into(started), into(ended), now;
    struct Histogram {
      std::array<int64_t, kDurationBuckets.size()> buckets{};
      int64_t count = 0;
      double sum = 0;
    };
    std::map<std::string, Histogram> durations;
    for (std::size_t i = 0; i < run_orgs.size(); ++i) {
      const auto seconds = seconds_between(started[i], ended[i]);
      if (!seconds) continue;
      auto& h = durations[run_orgs[i]];
      for (std::size_t b = 0; b < kDurationBuckets.size(); ++b)
        if (*seconds <= kDurationBuckets[b]) ++h.buckets[b];
      ++h.count;
      h.sum += *seconds;
    }
    m.family("vaxetl_run_duration_seconds", "histogram", "How long finished runs took, per provider.");
    for (const auto& [org, h] : durations) {
      for (std::size_t b = 0; b < kDurationBuckets.size(); ++b)
        m.sample("vaxetl_run_duration_seconds_bucket", {{"org", org}, {"le", number(kDurationBuckets[b])}},
                 static_cast<double>(h.buckets[b]));
      m.sample("vaxetl_run_duration_seconds_bucket", {{"org", org}, {"le", "+Inf"}}, static_cast<double>(h.count));
      m.sample("vaxetl_run_duration_seconds_sum", {{"org", org}}, h.sum);
      m.sample("vaxetl_run_duration_seconds_count", {{"org", org}}, static_cast<double>(h.count));
    }

    m.family("vaxetl_findings_total", "counter",
             "Findings recorded by runs (validations excluded), by provider and code: records rejected (E), "
             "held (H) or loaded with a warning (W), and file-level findings.");
    for (const auto& total : Ledger(input.ledger).finding_totals())
      m.sample("vaxetl_findings_total", {{"org", total.org}, {"code", total.code}}, static_cast<double>(total.count));

    const auto reports = provider_reports(input.ledger, 30, 1);
    m.family("vaxetl_provider_paused", "gauge", "1 when the race/ethnicity gate (or an operator) paused the provider.");
    for (const auto& r : reports) m.sample("vaxetl_provider_paused", {{"org", r.state.org}}, r.state.status == "paused");
    m.family("vaxetl_provider_held_files", "gauge", "Held files of the provider not yet loaded.");
    for (const auto& r : reports)
      m.sample("vaxetl_provider_held_files", {{"org", r.state.org}}, static_cast<double>(r.held_files));
    m.family("vaxetl_provider_race_ethnicity_populated_ratio", "gauge",
             "Share of the provider's PROD records of the last 30 days with race and ethnicity populated.");
    for (const auto& r : reports)
      if (r.window.records > 0)
        m.sample("vaxetl_provider_race_ethnicity_populated_ratio", {{"org", r.state.org}},
                 static_cast<double>(r.window.populated) / static_cast<double>(r.window.records));
    m.family("vaxetl_provider_race_ethnicity_unknown_ratio", "gauge",
             "Share of the provider's PROD records of the last 30 days with race or ethnicity unknown.");
    for (const auto& r : reports)
      if (r.window.records > 0)
        m.sample("vaxetl_provider_race_ethnicity_unknown_ratio", {{"org", r.state.org}},
                 static_cast<double>(r.window.unknown) / static_cast<double>(r.window.records));
  }

  m.family("vaxetl_queue_depth", "gauge", "Files or messages in the daemon's queues, by channel and state.");
  for (const auto& q : input.queues) {
    m.sample("vaxetl_queue_depth", {{"channel", q.channel}, {"state", "pending"}}, static_cast<double>(q.pending));
    m.sample("vaxetl_queue_depth", {{"channel", q.channel}, {"state", "in_progress"}}, static_cast<double>(q.in_progress));
    m.sample("vaxetl_queue_depth", {{"channel", q.channel}, {"state", "retrying"}}, static_cast<double>(q.retrying));
    m.sample("vaxetl_queue_depth", {{"channel", q.channel}, {"state", "parked"}}, static_cast<double>(q.parked));
  }
  m.family("vaxetl_inbox_oldest_pending_age_seconds", "gauge", "Age of the oldest pending file or message per channel.");
  for (const auto& q : input.queues)
    m.sample("vaxetl_inbox_oldest_pending_age_seconds", {{"channel", q.channel}}, q.oldest_pending_age_seconds);
  return m.text();
}

}  // namespace vaxetl::console
