// The schema layer: which keys exist, their types, ranges, defaults and
// one-line descriptions; validation of a parsed tree into typed values.
//
// A schema is a tree of
//   leaves  `mqtt.max_inflight`      a KeySpec (type, range, default)
//   groups  `mqtt`                   fixed children
//   maps    `listeners.tcp`          any entry name, each entry an object
//                                    checked against the same child schema
//                                    (`listeners.tcp.<name>.bind`)
// Validation reports every problem it finds, each located at the offending
// key or value:
//   roadmq.conf:7:3: unknown key "mqtt.max_inflightt" (did you mean "mqtt.max_inflight"?)
//   roadmq.conf:8:18: mqtt.max_inflight: expected an integer in 1..65535, got "abc"
//
// Thread safety: a Schema is built once, then only read (validate() is const
// and may run on any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/expected.hpp"
#include "config/error.hpp"
#include "config/units.hpp"
#include "config/value.hpp"

namespace roadmq::config {

enum class Kind {
  boolean,      // true/false/on/off
  integer,      // 64-bit, with a range
  floating,     // double, with a range
  percent,      // "80%" -> 0.8
  duration,     // "30s"; optionally "disabled"
  size,         // "64KB"
  string,       // any scalar, kept as written
  enumeration,  // one of a fixed set of strings
  string_list,  // [a, b]
};

// What a bare integer means for a duration key. EMQX takes seconds for some
// keys (e.g. server_keepalive) and nothing for most; guessing is how a
// "30" meant as seconds becomes 30 ms, so the default is to refuse.
enum class BareInteger { rejected, milliseconds, seconds };

// A validated value. Enumerations are their string; durations that allow
// "disabled" are optional<Duration> (nullopt = disabled).
using Typed = std::variant<bool, std::int64_t, double, Duration, std::optional<Duration>, ByteSize,
                           std::string, std::vector<std::string>>;

struct KeySpec {
  Kind kind = Kind::string;
  std::string description;                                      // one line, for docs and --help
  std::optional<std::string> default_text;                      // HOCON text; nullopt = required
  std::int64_t min = std::numeric_limits<std::int64_t>::min();  // integer; ms; bytes
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  double min_float = -std::numeric_limits<double>::infinity();  // floating; percent (ratio)
  double max_float = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;                  // enumeration
  BareInteger bare_integer = BareInteger::rejected;  // duration
  bool allow_disabled = false;                       // duration: the string "disabled" -> nullopt
  // An extra rule on the converted value (say "host:port"); returns what is
  // wrong, or nullopt.
  std::function<std::optional<std::string>(const Typed&)> check;

  KeySpec& required() {
    default_text.reset();
    return *this;
  }
  KeySpec& bare_integers(BareInteger b) {
    bare_integer = b;
    return *this;
  }
  KeySpec& or_disabled() {
    allow_disabled = true;
    return *this;
  }
  KeySpec& with_check(std::function<std::optional<std::string>(const Typed&)> fn) {
    check = std::move(fn);
    return *this;
  }
};

// Builders, so a schema table reads as one line per key.
namespace spec {
KeySpec boolean(std::string default_text, std::string description);
KeySpec integer(std::int64_t min, std::int64_t max, std::string default_text,
                std::string description);
KeySpec floating(double min, double max, std::string default_text, std::string description);
KeySpec percent(std::string default_text, std::string description);
KeySpec duration(Duration min, Duration max, std::string default_text, std::string description);
KeySpec size(ByteSize min, ByteSize max, std::string default_text, std::string description);
KeySpec string(std::string default_text, std::string description);
KeySpec enumeration(std::vector<std::string> choices, std::string default_text,
                    std::string description);
KeySpec string_list(std::string default_text, std::string description);
}  // namespace spec

// Converts one value as `spec` says. The error is the part after "path: ",
// e.g. `expected an integer in 1..65535, got "abc"`.
Expected<Typed, std::string> convert(const KeySpec& spec, const Value& v);

struct ResolvedValue {
  Typed value;
  Location origin;  // where it was set; empty for defaults
  bool from_default = false;
};

// The outcome of validation: every leaf's typed value by full dotted path
// (`listeners.tcp.default.bind`), defaults filled in, plus the entry names of
// each map.
class Resolved {
 public:
  const ResolvedValue* find(std::string_view path) const;
  // Entry names of the map at `map_path`, sorted; empty if none.
  const std::vector<std::string>& entries(std::string_view map_path) const;
  const std::map<std::string, ResolvedValue, std::less<>>& values() const { return values_; }

  // Filled by Schema::validate().
  void set(const std::string& path, ResolvedValue v);
  void set_entries(const std::string& map_path, std::vector<std::string> names);

 private:
  std::map<std::string, ResolvedValue, std::less<>> values_;
  std::map<std::string, std::vector<std::string>, std::less<>> entries_;
};

class Schema {
 public:
  Schema();
  ~Schema();
  Schema(Schema&&) noexcept;
  Schema& operator=(Schema&&) noexcept;

  // Adds a leaf at a dotted path, creating groups on the way. A duplicate
  // path or a default that does not convert is a programmer error (asserts).
  void add(std::string_view path, KeySpec spec);

  // Adds a map at `path` whose entries are checked against `entry`.
  // `default_entries` is HOCON for entries that exist unless the file
  // overrides them, merged under the user's: `default { bind = "0.0.0.0:1883" }`.
  void add_map(std::string_view path, Schema entry, std::string description,
               std::string_view default_entries = {});

  // Checks a parsed tree (an object); collects every error.
  Expected<Resolved, Errors> validate(const Value& root) const;

  struct Lookup {
    enum class What { leaf, group, map, map_entry, unknown };
    What what = What::unknown;
    std::string suggestion;  // for unknown: a close known path, or empty
  };
  // Classifies a key path (as env overrides spell it) without a tree.
  Lookup lookup(const std::vector<std::string>& path) const;

  // Every leaf in declaration order; map entries appear as `<name>`
  // (`listeners.tcp.<name>.bind`).
  void for_each_key(const std::function<void(const std::string& path, const KeySpec&)>& fn) const;

  struct Node;

 private:
  std::unique_ptr<Node> root_;
};

// Edit distance (optimal string alignment: a swap of neighbours costs 1),
// case-insensitive. For "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace roadmq::config
