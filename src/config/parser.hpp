// HOCON-subset parser for RoadMQ configuration files (the subset EMQX 5's
// emqx.conf uses).
//
// Accepted syntax:
//   key = value      key: value      key { ... }      a.b.c = 1
//   "quoted.key" = 1 (one segment)   include "other.conf"
//   values: {objects}, [lists], "strings with \n \u00e9 escapes",
//           """raw multi-line strings""", numbers (42, -1.5, 1e3),
//           true/false/on/off, null, and unquoted strings such as
//           127.0.0.1:1883, 30s, 64KB, /var/lib/roadmq
//   # and // comments; entries separated by new lines or ','
// Later definitions of a key override earlier ones; objects merge key by key.
// Not supported (and reported as errors): substitutions `${...}`, `+=`,
// value concatenation (`a = foo bar`).
//
// The parser never throws and never crashes on any input (it is fuzzed); every
// problem is one Error with the file:line:col where it was found.
//
// Thread safety: free functions, no shared state; an IncludeLoader is called
// on the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/expected.hpp"
#include "config/error.hpp"
#include "config/value.hpp"

namespace roadmq::config {

struct IncludedFile {
  std::string name;  // display name used in locations (usually the resolved path)
  std::string text;
};

// Resolves `include "requested"` found in `including_file`. Returns the
// file, or a reason it cannot be read.
using IncludeLoader = std::function<Expected<IncludedFile, std::string>(
    std::string_view including_file, std::string_view requested)>;

struct ParseOptions {
  IncludeLoader include_loader;         // empty: `include` is an error
  std::uint32_t max_depth = 64;         // nesting of objects, lists and dotted keys
  std::uint32_t max_include_depth = 8;  // guards against include cycles
};

// Parses a whole configuration text held in memory. `filename` is only used
// in locations.
Expected<Value, Error> parse(std::string_view text, std::string_view filename,
                             const ParseOptions& options = {});

// Reads and parses `path`; includes resolve relative to the including file.
// A missing or unreadable file is an Error naming the path.
Expected<Value, Error> parse_file(const std::string& path);

// Parses a single HOCON value (`[a, b]`, `{x = 1}`, `"s"`, `30s`) filling the
// whole text; `source` names it in locations.
Expected<Value, Error> parse_value(std::string_view text, std::string_view source);

// What an unquoted token means: true/false/on/off, null, an integer, a
// floating point number, or else a string. Numbers too large for 64 bits
// become doubles.
Value parse_scalar(std::string_view token, Location where);

// Reads a whole file; the error is "cannot read <path>: <reason>".
Expected<std::string, std::string> read_text_file(const std::string& path);

// Loads includes from the file system, relative to the including file's
// directory unless absolute.
IncludeLoader filesystem_include_loader();

}  // namespace roadmq::config
