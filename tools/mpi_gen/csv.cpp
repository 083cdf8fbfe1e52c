#include <ostream>

#include "population.hpp"

namespace vaxetl::mpi_gen {

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string quoted;
  quoted.reserve(value.size() + 2);
  quoted += '"';
  for (const char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

void write_csv_header(std::ostream& out) {
  out << "person_id,source,recipient_id,first_name,middle_name,last_name,suffix,birth_date,sex,"
         "street,street_2,city,state,zip,phone,email,ssn,errors,relation\n";
}

void write_csv_row(std::ostream& out, const PersonRecord& record) {
  // One write per row: the line is built in a reused buffer.
  thread_local std::string line;
  line = std::to_string(record.person_id);
  for (const std::string* field :
       {&record.source, &record.recipient_id, &record.first_name, &record.middle_name, &record.last_name,
        &record.suffix, &record.birth_date, &record.sex, &record.street, &record.street_2, &record.city,
        &record.state, &record.zip, &record.phone, &record.email, &record.ssn, &record.errors,
        &record.relation}) {
    line += ',';
    if (field->find_first_of(",\"\r\n") == std::string::npos) {
      line += *field;
    } else {
      line += csv_field(*field);
    }
  }
  line += '\n';
  out.write(line.data(), static_cast<std::streamsize>(line.size()));
}

}  // namespace vaxetl::mpi_gen
