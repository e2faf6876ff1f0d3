#include "loadgen/json.hpp"

#include "base/json_string.hpp"

#include <cmath>
#include <cstdio>

namespace roadmq::loadgen {

std::string JsonWriter::escape(std::string_view s) { return json_string(s); }

void JsonWriter::prefix(std::string_view key) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  if (!key.empty()) {
    out_ += escape(key);
    out_ += ": ";
  }
}

void JsonWriter::open(std::string_view key, char c) {
  prefix(key);
  out_ += c;
  first_.push_back(true);
}

void JsonWriter::close(char c) {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) {
    out_ += '\n';
    out_.append(2 * first_.size(), ' ');
  }
  out_ += c;
  if (first_.empty()) out_ += '\n';
}

JsonWriter& JsonWriter::begin_object(std::string_view key) {
  open(key, '{');
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}
JsonWriter& JsonWriter::begin_array(std::string_view key) {
  open(key, '[');
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::string_view v) {
  prefix(key);
  out_ += escape(v);
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, std::uint64_t v) {
  prefix(key);
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, double v) {
  prefix(key);
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  out_ += buf;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view key, bool v) {
  prefix(key);
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null(std::string_view key) {
  prefix(key);
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::element(std::string_view v) {
  prefix({});
  out_ += escape(v);
  return *this;
}

}  // namespace roadmq::loadgen
