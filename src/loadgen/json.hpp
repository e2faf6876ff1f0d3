// JsonWriter: a small streaming JSON emitter for the run summary: objects,
// arrays, numbers, strings (escaped), booleans; two-space indentation.
//
// Thread safety: a value owned by its user.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roadmq::loadgen {

class JsonWriter {
 public:
  JsonWriter& begin_object(std::string_view key = {});
  JsonWriter& end_object();
  JsonWriter& begin_array(std::string_view key = {});
  JsonWriter& end_array();
  JsonWriter& value(std::string_view key, std::string_view v);
  JsonWriter& value(std::string_view key, const char* v) { return value(key, std::string_view(v)); }
  JsonWriter& value(std::string_view key, std::uint64_t v);
  JsonWriter& value(std::string_view key, double v);  // non-finite: null
  JsonWriter& value(std::string_view key, bool v);
  JsonWriter& null(std::string_view key);
  // Array elements.
  JsonWriter& element(std::string_view v);

  const std::string& str() const noexcept { return out_; }

  static std::string escape(std::string_view s);

 private:
  void prefix(std::string_view key);
  void open(std::string_view key, char c);
  void close(char c);

  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
};

}  // namespace roadmq::loadgen
