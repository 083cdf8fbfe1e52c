#include "cli.hpp"

#include <charconv>
#include <chrono>
#include <fstream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "population.hpp"

namespace vaxetl::mpi_gen {

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitNoInput = 66;
constexpr int kExitCantCreate = 73;
constexpr int kExitIo = 74;

constexpr std::string_view kHelp =
    "usage: mpi_gen [options]\n"
    "Writes a synthetic North Carolina patient population as CSV with a truth column\n"
    "(person_id) for the patient-matching benchmark (docs/mpi-population.md).\n"
    "\n"
    "  --people N            distinct persons in the base population (default 1000000)\n"
    "  --day-records N       records in the day stream (default 200000)\n"
    "  --seed N              random seed; the same seed gives the same files (default 1)\n"
    "  --out-base FILE       write the base population (one record per person)\n"
    "  --out-day FILE        write the day stream (returning persons with errors, new persons)\n"
    "  --returning-share X   day records of base persons (default 0.6)\n"
    "  --repeat-share X      day records of new persons already seen that day (default 0.05)\n"
    "  --twin-share X        persons who have a twin (default 0.01)\n"
    "  --family-share X      persons living with a relative (default 0.05)\n"
    "  --providers N         provider codes PRV001.. (default 40)\n"
    "  --error-scale X       multiplies every error rate (default 1; 0 = clean day records)\n"
    "  --data-dir DIR        reference tables (default: tools/mpi_gen/data of the source tree)\n"
    "  --help                this text\n"
    "At least one of --out-base and --out-day is required.\n";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::uint64_t parse_count(std::string_view option, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw UsageError(std::string(option) + " needs a whole number");
  return value;
}

double parse_share(std::string_view option, std::string_view text, double max = 1.0) {
  double value = 0;
  try {
    std::size_t used = 0;
    value = std::stod(std::string(text), &used);
    if (used != text.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw UsageError(std::string(option) + " needs a number");
  }
  if (!(value >= 0.0 && value <= max))
    throw UsageError(std::string(option) + " must be between 0 and " + std::to_string(static_cast<int>(max)));
  return value;
}

void scale_errors(ErrorRates& rates, double scale) {
  for (double* rate : {&rates.name_typo, &rates.nickname, &rates.phonetic, &rates.name_swap, &rates.dob_typo,
                       &rates.dob_day_month_swap, &rates.moved, &rates.new_phone, &rates.missing_fields,
                       &rates.married_surname, &rates.middle_change, &rates.sex_error})
    *rate = std::min(1.0, *rate * scale);
}

}  // namespace

int run_cli(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  PopulationOptions options;
  std::string base_path, day_path, data_dir = default_reference_dir();
  double error_scale = 1.0;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string_view arg = args[i];
      if (arg == "--help" || arg == "-h") {
        out << kHelp;
        return 0;
      }
      if (!arg.starts_with("--")) throw UsageError("unexpected argument (options start with --)");
      if (i + 1 >= args.size()) throw UsageError(std::string(arg) + " needs a value");
      const std::string_view value = args[++i];
      if (arg == "--people") options.people = parse_count(arg, value);
      else if (arg == "--day-records") options.day_records = parse_count(arg, value);
      else if (arg == "--seed") options.seed = parse_count(arg, value);
      else if (arg == "--out-base") base_path = value;
      else if (arg == "--out-day") day_path = value;
      else if (arg == "--returning-share") options.returning_share = parse_share(arg, value);
      else if (arg == "--repeat-share") options.day_repeat_share = parse_share(arg, value);
      else if (arg == "--twin-share") options.twin_share = parse_share(arg, value);
      else if (arg == "--family-share") options.family_share = parse_share(arg, value);
      else if (arg == "--providers") options.providers = static_cast<std::uint32_t>(std::min<std::uint64_t>(parse_count(arg, value), 1'000'000));
      else if (arg == "--error-scale") error_scale = parse_share(arg, value, 100.0);
      else if (arg == "--data-dir") data_dir = value;
      else throw UsageError("unknown option " + std::string(arg));
    }
    if (base_path.empty() && day_path.empty()) throw UsageError("give --out-base and/or --out-day");
    if ((!base_path.empty() && base_path == day_path))
      throw UsageError("--out-base and --out-day must be different files");
  } catch (const UsageError& error) {
    err << "mpi_gen: " << error.what() << " (see --help)\n";
    return kExitUsage;
  }
  scale_errors(options.errors, error_scale);

  std::unique_ptr<PopulationGenerator> generator;
  try {
    generator = std::make_unique<PopulationGenerator>(options, data_dir);
  } catch (const std::invalid_argument& error) {
    err << error.what() << " (see --help)\n";
    return kExitUsage;
  } catch (const std::exception& error) {
    err << error.what() << "\n";
    return kExitNoInput;
  }

  const auto write = [&](const std::string& path, bool base) -> int {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    if (!file) {
      err << "mpi_gen: cannot create the " << (base ? "base" : "day") << " output file\n";
      return kExitCantCreate;
    }
    std::vector<char> buffer(1 << 20);
    file.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto start = std::chrono::steady_clock::now();
    write_csv_header(file);
    PersonRecord record;
    std::uint64_t count = 0;
    while (base ? generator->next_base(record) : generator->next_day(record)) {
      write_csv_row(file, record);
      ++count;
    }
    file.flush();
    if (!file) {
      err << "mpi_gen: writing the " << (base ? "base" : "day") << " output file failed\n";
      return kExitIo;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    err << "mpi_gen: " << (base ? "base" : "day") << ": " << count << " records in " << seconds << " s ("
        << (seconds > 0 ? static_cast<std::uint64_t>(static_cast<double>(count) / seconds) : 0)
        << " records/s)\n";
    return 0;
  };
  if (!base_path.empty())
    if (const int code = write(base_path, true); code != 0) return code;
  if (!day_path.empty())
    if (const int code = write(day_path, false); code != 0) return code;
  return 0;
}

}  // namespace vaxetl::mpi_gen
