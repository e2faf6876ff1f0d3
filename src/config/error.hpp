// Where a configuration value came from, and what is wrong with it.
//
// Every configuration problem is reported as `file:line:col: message` so an
// operator can jump straight to it; values that did not come from a file
// (environment overrides, built-in defaults) carry a source name and no
// position, and print as `source: message`.
//
// Thread safety: plain values; safe to copy and share read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace roadmq::config {

struct Location {
  // Shared because every node of a parsed tree points at the same file name.
  std::shared_ptr<const std::string> file;
  std::uint32_t line = 0;  // 1-based; 0 = no position (env, defaults)
  std::uint32_t col = 0;   // 1-based, in Unicode code points

  std::string_view file_name() const noexcept {
    return file ? std::string_view(*file) : std::string_view();
  }
  bool has_position() const noexcept { return line != 0; }
  // "file:line:col", "file" or "" depending on what is known.
  std::string str() const;
};

struct Error {
  Location where;
  std::string message;

  // "file:line:col: message".
  std::string str() const;
};

using Errors = std::vector<Error>;

// One error per line, in order; what load_settings() reports.
std::string join(const Errors& errors);

}  // namespace roadmq::config
