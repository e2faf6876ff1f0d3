// A string as a JSON string literal (RFC 8259 §7): quotes, backslash and
// control characters escaped, everything else (UTF-8 included) as is. One
// implementation for config messages, presence events and bench summaries.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace roadmq {

void append_json_string(std::string& out, std::string_view s);

inline std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

}  // namespace roadmq
