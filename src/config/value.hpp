// The parsed configuration tree: what the HOCON parser produces and what the
// schema layer validates. Untyped on purpose: `30s` is a string here and only
// becomes a duration once the schema says the key is one.
//
// Objects keep their members in first-definition order (so errors and dumps
// follow the file), and are searched linearly: configuration objects hold
// tens of keys, not thousands.
//
// Thread safety: a plain value; build on one thread, then share read-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/error.hpp"

namespace roadmq::config {

struct Member;

class Value {
 public:
  enum class Type { null, boolean, integer, floating, string, array, object };
  using Array = std::vector<Value>;
  using Object = std::vector<Member>;

  Value();
  ~Value();
  Value(const Value&);
  Value(Value&&) noexcept;
  Value& operator=(const Value&);
  Value& operator=(Value&&) noexcept;

  static Value null(Location where = {});
  static Value boolean(bool b, Location where = {});
  static Value integer(std::int64_t i, Location where = {});
  static Value floating(double d, Location where = {});
  static Value string(std::string s, Location where = {});
  static Value array(Array items = {}, Location where = {});
  static Value object(Location where = {});

  Type type() const noexcept { return static_cast<Type>(data_.index()); }
  bool is_null() const noexcept { return type() == Type::null; }
  bool is_bool() const noexcept { return type() == Type::boolean; }
  bool is_int() const noexcept { return type() == Type::integer; }
  bool is_double() const noexcept { return type() == Type::floating; }
  bool is_number() const noexcept { return is_int() || is_double(); }
  bool is_string() const noexcept { return type() == Type::string; }
  bool is_array() const noexcept { return type() == Type::array; }
  bool is_object() const noexcept { return type() == Type::object; }
  bool is_scalar() const noexcept { return !is_array() && !is_object(); }

  // Accessors assert the type in debug builds: check is_*() first.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;  // integers convert
  const std::string& as_string() const;
  const Array& items() const;
  Array& items();
  const Object& members() const;
  Object& members();

  const Location& location() const noexcept { return where_; }
  void set_location(Location where) { where_ = std::move(where); }

  // Source text of a scalar written without quotes (`on`, `1.50`, `0x`);
  // empty for quoted strings and values built in code. Lets a string-typed key
  // keep exactly what was written, and errors quote the user's own spelling.
  const std::string& raw() const noexcept { return raw_; }
  void set_raw(std::string raw) { raw_ = std::move(raw); }

  // Object access. find() returns nullptr if absent (or not an object).
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  const Member* find_member(std::string_view key) const;
  // Inserts or replaces `key`; an existing member keeps its position.
  Value& set(std::string key, Value v, Location key_where = {});
  bool erase(std::string_view key);

  // Short rendering for error messages: `"abc"`, `42`, `true`, `null`,
  // `a list`, `an object`.
  std::string describe() const;

  // Same type and same content, ignoring locations and raw spelling (and
  // member order, which HOCON gives no meaning).
  friend bool equivalent(const Value& a, const Value& b);

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Object> data_;
  Location where_;
  std::string raw_;
};

struct Member {
  std::string key;
  Location key_location;
  Value value;
};

// HOCON-merge `overlay` onto `base`: objects merge key by key, recursively;
// anything else replaces. This is how a later definition of a key overrides
// an earlier one, and how an env override lands on the file's tree.
void merge(Value& base, Value overlay);

// Sets the value at `path` (one element per level) inside object `root`,
// creating intermediate objects and replacing non-objects that stand in the
// way; merges if both the old and new value are objects.
// `where` is recorded on created intermediate objects.
void set_path(Value& root, const std::vector<std::string>& path, Value v, const Location& where);

// Sets the location of `v`, its members' keys and everything below to
// `where`: for values whose text position means nothing to the user
// (built-in defaults, environment overrides).
void relocate(Value& v, const Location& where);

// Canonical HOCON text of a tree (keys and strings always quoted), which
// parses back to an equivalent tree. For dumps and round-trip tests.
std::string to_hocon(const Value& v);

// `a.b."c.d"`: a key path for messages, quoting segments that need it.
std::string format_path(const std::vector<std::string>& path);
// Quotes a key segment if it is not a plain HOCON key.
std::string format_key(std::string_view key);
// A JSON/HOCON quoted string with escapes.
std::string quote(std::string_view s);

}  // namespace roadmq::config
