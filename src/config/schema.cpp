#include "config/schema.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "base/assert.hpp"
#include "config/parser.hpp"

namespace roadmq::config {

// ---- builders ---------------------------------------------------------------

namespace spec {

namespace {
KeySpec make(Kind kind, std::string default_text, std::string description) {
  KeySpec s;
  s.kind = kind;
  s.default_text = std::move(default_text);
  s.description = std::move(description);
  return s;
}
}  // namespace

KeySpec boolean(std::string default_text, std::string description) {
  return make(Kind::boolean, std::move(default_text), std::move(description));
}
KeySpec integer(std::int64_t min, std::int64_t max, std::string default_text,
                std::string description) {
  KeySpec s = make(Kind::integer, std::move(default_text), std::move(description));
  s.min = min;
  s.max = max;
  return s;
}
KeySpec floating(double min, double max, std::string default_text, std::string description) {
  KeySpec s = make(Kind::floating, std::move(default_text), std::move(description));
  s.min_float = min;
  s.max_float = max;
  return s;
}
KeySpec percent(std::string default_text, std::string description) {
  KeySpec s = make(Kind::percent, std::move(default_text), std::move(description));
  s.min_float = 0.0;
  s.max_float = 1.0;
  return s;
}
KeySpec duration(Duration min, Duration max, std::string default_text, std::string description) {
  KeySpec s = make(Kind::duration, std::move(default_text), std::move(description));
  s.min = min.count();
  s.max = max.count();
  return s;
}
KeySpec size(ByteSize min, ByteSize max, std::string default_text, std::string description) {
  KeySpec s = make(Kind::size, std::move(default_text), std::move(description));
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  s.min = static_cast<std::int64_t>(std::min(min.bytes, kMax));
  s.max = static_cast<std::int64_t>(std::min(max.bytes, kMax));
  return s;
}
KeySpec string(std::string default_text, std::string description) {
  return make(Kind::string, std::move(default_text), std::move(description));
}
KeySpec enumeration(std::vector<std::string> choices, std::string default_text,
                    std::string description) {
  KeySpec s = make(Kind::enumeration, std::move(default_text), std::move(description));
  s.choices = std::move(choices);
  return s;
}
KeySpec string_list(std::string default_text, std::string description) {
  return make(Kind::string_list, std::move(default_text), std::move(description));
}

}  // namespace spec

// ---- conversion -------------------------------------------------------------

namespace {

constexpr std::int64_t kMinInt = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

std::string format_number(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

// " in 1..10", " >= 0", "" - with `fmt` spelling each bound.
template <class F>
std::string range_text(std::int64_t min, std::int64_t max, std::int64_t no_min, F fmt) {
  bool lo = min != no_min;
  bool hi = max != kMaxInt;
  if (lo && hi) return " in " + fmt(min) + ".." + fmt(max);
  if (lo) return " >= " + fmt(min);
  if (hi) return " <= " + fmt(max);
  return "";
}

std::string expectation(const KeySpec& s) {
  switch (s.kind) {
    case Kind::boolean:
      return "true or false";
    case Kind::integer:
      return "an integer" +
             range_text(s.min, s.max, kMinInt, [](std::int64_t n) { return std::to_string(n); });
    case Kind::floating: {
      bool lo = s.min_float != -std::numeric_limits<double>::infinity();
      bool hi = s.max_float != std::numeric_limits<double>::infinity();
      std::string out = "a number";
      if (lo && hi) {
        out += " in " + format_number(s.min_float) + ".." + format_number(s.max_float);
      } else if (lo) {
        out += " >= " + format_number(s.min_float);
      } else if (hi) {
        out += " <= " + format_number(s.max_float);
      }
      return out;
    }
    case Kind::percent:
      return "a percentage in " + format_number(s.min_float * 100) + "%.." +
             format_number(s.max_float * 100) + "% (e.g. 80%)";
    case Kind::duration: {
      std::string out = s.allow_disabled ? "\"disabled\" or a duration" : "a duration";
      out +=
          range_text(s.min, s.max, 0, [](std::int64_t n) { return format_duration(Duration(n)); });
      out += s.bare_integer == BareInteger::seconds ? " (e.g. 30s, 500ms, 5m; a bare number counts "
                                                      "seconds)"
                                                    : " (e.g. 30s, 500ms, 5m, 2h, 1d)";
      return out;
    }
    case Kind::size:
      return "a size" +
             range_text(s.min, s.max, 0,
                        [](std::int64_t n) {
                          return format_size(ByteSize{static_cast<std::uint64_t>(n)});
                        }) +
             " (e.g. 512, 64KB, 1MB)";
    case Kind::string:
      return "a string";
    case Kind::enumeration: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < s.choices.size(); ++i) {
        if (i != 0) out += ", ";
        out += s.choices[i];
      }
      return out;
    }
    case Kind::string_list:
      return "a list of strings";
  }
  return "?";
}

Unexpected<std::string> mismatch(const KeySpec& s, const Value& v, std::string_view hint = {}) {
  std::string msg = "expected " + expectation(s) + ", got " + v.describe();
  if (!hint.empty()) {
    msg += " (";
    msg += hint;
    msg += ')';
  }
  return Unexpected{std::move(msg)};
}

// The text of a scalar as the user wrote it: strings as they are, other
// scalars by their source spelling.
std::optional<std::string> scalar_text(const Value& v) {
  switch (v.type()) {
    case Value::Type::string:
      return v.as_string();
    case Value::Type::boolean:
    case Value::Type::integer:
    case Value::Type::floating:
      return v.raw().empty() ? v.describe() : v.raw();
    default:
      return std::nullopt;
  }
}

// Numbers and booleans may arrive as strings (quoted, or from the
// environment); read them the way the parser reads unquoted text.
Value reread(const Value& v) {
  if (!v.is_string()) return v;
  Value s = parse_scalar(v.as_string(), v.location());
  return s.is_string() ? v : s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Expected<Typed, std::string> convert_duration(const KeySpec& s, const Value& v) {
  std::optional<Duration> d;
  std::optional<std::int64_t> bare;
  if (v.is_string()) {
    const std::string& text = v.as_string();
    if (s.allow_disabled && text == "disabled") return Typed(std::optional<Duration>());
    if (auto parsed = parse_duration(text)) {
      d = parsed;
    } else if (all_digits(text)) {
      Value n = parse_scalar(text, {});
      if (!n.is_int()) return mismatch(s, v);
      bare = n.as_int();
    } else {
      return mismatch(s, v);
    }
  } else if (v.is_int()) {
    bare = v.as_int();
  } else {
    return mismatch(s, v);
  }
  if (bare) {
    if (*bare < 0) return mismatch(s, v);
    switch (s.bare_integer) {
      case BareInteger::rejected: {
        std::string n = std::to_string(*bare);
        return mismatch(s, v, "add a unit, e.g. " + n + "s or " + n + "ms");
      }
      case BareInteger::milliseconds:
        d = Duration(*bare);
        break;
      case BareInteger::seconds:
        if (*bare > kMaxInt / 1000) return mismatch(s, v);
        d = Duration(*bare * 1000);
        break;
    }
  }
  if (d->count() < s.min || d->count() > s.max) return mismatch(s, v);
  if (s.allow_disabled) return Typed(std::optional<Duration>(d));
  return Typed(*d);
}

}  // namespace

Expected<Typed, std::string> convert(const KeySpec& s, const Value& v) {
  switch (s.kind) {
    case Kind::boolean: {
      Value r = reread(v);
      if (!r.is_bool()) return mismatch(s, v);
      return Typed(r.as_bool());
    }
    case Kind::integer: {
      Value r = reread(v);
      if (!r.is_int() || r.as_int() < s.min || r.as_int() > s.max) return mismatch(s, v);
      return Typed(r.as_int());
    }
    case Kind::floating: {
      Value r = reread(v);
      if (!r.is_number()) return mismatch(s, v);
      double d = r.as_double();
      if (!(d >= s.min_float && d <= s.max_float)) return mismatch(s, v);
      return Typed(d);
    }
    case Kind::percent: {
      if (!v.is_string()) return mismatch(s, v);
      auto p = parse_percent(v.as_string());
      if (!p || !(*p >= s.min_float && *p <= s.max_float)) return mismatch(s, v);
      return Typed(*p);
    }
    case Kind::duration:
      return convert_duration(s, v);
    case Kind::size: {
      std::optional<ByteSize> b;
      if (v.is_string()) {
        b = parse_size(v.as_string());
      } else if (v.is_int() && v.as_int() >= 0) {
        b = ByteSize{static_cast<std::uint64_t>(v.as_int())};
      }
      if (!b || b->bytes < static_cast<std::uint64_t>(std::max<std::int64_t>(s.min, 0)) ||
          b->bytes > static_cast<std::uint64_t>(std::max<std::int64_t>(s.max, 0))) {
        return mismatch(s, v);
      }
      return Typed(*b);
    }
    case Kind::string: {
      auto text = scalar_text(v);
      if (!text) return mismatch(s, v);
      return Typed(std::move(*text));
    }
    case Kind::enumeration: {
      auto text = scalar_text(v);
      if (!text) return mismatch(s, v);
      if (std::find(s.choices.begin(), s.choices.end(), *text) != s.choices.end()) {
        return Typed(std::move(*text));
      }
      // A near miss (`round_robbin`) or an abbreviation (`warn`).
      const std::string* best = nullptr;
      std::size_t best_d = 3;
      for (const std::string& c : s.choices) {
        std::size_t d = edit_distance(*text, c);
        if (!text->empty() && c.compare(0, text->size(), *text) == 0)
          d = std::min<std::size_t>(d, 1);
        if (d < best_d) {
          best = &c;
          best_d = d;
        }
      }
      if (best) return mismatch(s, v, "did you mean " + quote(*best) + "?");
      return mismatch(s, v);
    }
    case Kind::string_list: {
      if (!v.is_array()) return mismatch(s, v);
      std::vector<std::string> out;
      for (const Value& item : v.items()) {
        auto text = scalar_text(item);
        if (!text) {
          return Unexpected{"expected " + expectation(s) + ", got a list containing " +
                            item.describe()};
        }
        out.push_back(std::move(*text));
      }
      return Typed(std::move(out));
    }
  }
  return mismatch(s, v);
}

// ---- the schema tree ----------------------------------------------------------

struct Schema::Node {
  enum class Type { leaf, group, map };
  Type type = Type::group;
  std::string name;
  KeySpec spec;                          // leaf
  std::optional<Typed> default_value;    // leaf, if not required
  std::vector<Node> children;            // group members; map: fields of every entry
  Value map_defaults = Value::object();  // map: {name {field = value}}
  std::string description;               // group, map

  const Node* find(std::string_view n) const {
    for (const Node& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
  Node* find(std::string_view n) { return const_cast<Node*>(std::as_const(*this).find(n)); }
};

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t dot = path.find('.', start);
    out.emplace_back(path.substr(start, dot - start));
    ROADMQ_ASSERT(!out.back().empty());
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool valid_entry_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

using Node = Schema::Node;

// The sibling closest to `key`, if close enough to be a plausible typo.
const Node* closest_sibling(std::string_view key, const std::vector<Node>& siblings) {
  const Node* best = nullptr;
  std::size_t best_d = 0;
  std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(3, key.size() / 3));
  for (const Node& n : siblings) {
    std::size_t gap =
        key.size() > n.name.size() ? key.size() - n.name.size() : n.name.size() - key.size();
    if (gap > limit) continue;  // the distance is at least the length difference
    std::size_t d = edit_distance(key, n.name);
    if (d <= limit && (!best || d < best_d)) {
      best = &n;
      best_d = d;
    }
  }
  return best;
}

// A leaf with exactly this name elsewhere (outside maps): `max_inflight`
// written at the top level means `mqtt.max_inflight`.
std::string find_leaf_anywhere(const Node& node, std::string_view key, const std::string& prefix) {
  for (const Node& c : node.children) {
    if (c.type == Node::Type::leaf && c.name.size() == key.size() &&
        edit_distance(c.name, key) == 0) {
      return prefix + c.name;
    }
    if (c.type == Node::Type::group) {
      std::string found = find_leaf_anywhere(c, key, prefix + c.name + ".");
      if (!found.empty()) return found;
    }
  }
  return {};
}

std::string suggest(const Node& root, const std::vector<Node>& siblings, std::string_view key,
                    const std::string& prefix) {
  if (const Node* n = closest_sibling(key, siblings)) return prefix + n->name;
  return find_leaf_anywhere(root, key, "");
}

std::string unknown_key_message(const std::string& path, const std::string& suggestion) {
  std::string msg = "unknown key " + quote(path);
  if (!suggestion.empty() && suggestion != path)
    msg += " (did you mean " + quote(suggestion) + "?)";
  return msg;
}

class Validator {
 public:
  explicit Validator(const Node& root) : root_(root) {}

  void group(const Node& node, const Value* obj, const std::string& prefix, const Location& where) {
    if (obj) {
      for (const Member& m : obj->members()) {
        const Node* child = node.find(m.key);
        if (!child) {
          std::string path = prefix + format_key(m.key);
          errors_.push_back({m.key_location, unknown_key_message(path, suggest(root_, node.children,
                                                                               m.key, prefix))});
        }
      }
    }
    for (const Node& child : node.children) {
      const Member* m = obj ? obj->find_member(child.name) : nullptr;
      // `key = null` reads as "not set": the default applies.
      const Value* v = (m && !m->value.is_null()) ? &m->value : nullptr;
      std::string path = prefix + child.name;
      switch (child.type) {
        case Node::Type::leaf:
          leaf(child, v, path, where);
          break;
        case Node::Type::group:
          if (v && !v->is_object()) {
            errors_.push_back({v->location(), path + ": expected an object, got " + v->describe()});
            v = nullptr;
          }
          group(child, v, path + ".", v ? v->location() : where);
          break;
        case Node::Type::map:
          map(child, v, path);
          break;
      }
    }
  }

  Resolved take_resolved() { return std::move(out_); }
  Errors take_errors() { return std::move(errors_); }

 private:
  void leaf(const Node& node, const Value* v, const std::string& path, const Location& where) {
    if (!v) {
      if (node.default_value) {
        set(path, ResolvedValue{*node.default_value, Location{}, true});
      } else {
        errors_.push_back({where, path + ": required key is missing"});
      }
      return;
    }
    auto typed = convert(node.spec, *v);
    if (!typed) {
      errors_.push_back({v->location(), path + ": " + typed.error()});
      return;
    }
    if (node.spec.check) {
      if (auto problem = node.spec.check(*typed)) {
        errors_.push_back({v->location(), path + ": " + *problem});
        return;
      }
    }
    // Built-in map defaults carry no file: they count as defaults too.
    bool from_default = v->location().file == nullptr;
    set(path, ResolvedValue{std::move(*typed), v->location(), from_default});
  }

  void map(const Node& node, const Value* v, const std::string& path) {
    Value merged = node.map_defaults;
    if (v) {
      if (!v->is_object()) {
        errors_.push_back({v->location(), path + ": expected an object, got " + v->describe()});
      } else {
        merged.set_location(v->location());
        merge(merged, *v);
      }
    }
    std::vector<std::string> names;
    for (const Member& e : merged.members()) {
      std::string entry_path = path + "." + format_key(e.key);
      if (!valid_entry_name(e.key)) {
        errors_.push_back({e.key_location, path + ": invalid name " + quote(e.key) +
                                               " (use up to 64 letters, digits, '_' and '-')"});
        continue;
      }
      if (e.value.is_null()) continue;  // `name = null` removes a (default) entry
      if (!e.value.is_object()) {
        errors_.push_back(
            {e.value.location(), entry_path + ": expected an object, got " + e.value.describe()});
        continue;
      }
      names.push_back(e.key);
      group(node, &e.value, entry_path + ".", e.value.location());
    }
    std::sort(names.begin(), names.end());
    out_.set_entries(path, std::move(names));
  }

  void set(const std::string& path, ResolvedValue v) { out_.set(path, std::move(v)); }

  const Node& root_;
  Resolved out_;
  Errors errors_;
};

}  // namespace

const ResolvedValue* Resolved::find(std::string_view path) const {
  auto it = values_.find(path);
  return it == values_.end() ? nullptr : &it->second;
}

const std::vector<std::string>& Resolved::entries(std::string_view map_path) const {
  static const std::vector<std::string> kNone;
  auto it = entries_.find(map_path);
  return it == entries_.end() ? kNone : it->second;
}

void Resolved::set(const std::string& path, ResolvedValue v) {
  values_.insert_or_assign(path, std::move(v));
}

void Resolved::set_entries(const std::string& map_path, std::vector<std::string> names) {
  entries_.insert_or_assign(map_path, std::move(names));
}

Schema::Schema() : root_(std::make_unique<Node>()) {}
Schema::~Schema() = default;
Schema::Schema(Schema&&) noexcept = default;
Schema& Schema::operator=(Schema&&) noexcept = default;

void Schema::add(std::string_view path, KeySpec spec) {
  std::vector<std::string> segs = split_path(path);
  Node* cur = root_.get();
  for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
    Node* child = cur->find(segs[i]);
    if (!child) {
      Node g;
      g.type = Node::Type::group;
      g.name = segs[i];
      cur->children.push_back(std::move(g));
      child = &cur->children.back();
    }
    ROADMQ_ASSERT(child->type == Node::Type::group);
    cur = child;
  }
  ROADMQ_ASSERT(cur->find(segs.back()) == nullptr);
  Node leaf;
  leaf.type = Node::Type::leaf;
  leaf.name = segs.back();
  if (spec.default_text) {
    auto parsed = parse_value(*spec.default_text, "(default)");
    ROADMQ_ASSERT(parsed.has_value());
    if (parsed) {
      Value v = std::move(*parsed);
      relocate(v, Location{});
      auto typed = convert(spec, v);
      ROADMQ_ASSERT(typed.has_value());
      if (typed) leaf.default_value = std::move(*typed);
    }
  }
  leaf.spec = std::move(spec);
  cur->children.push_back(std::move(leaf));
}

void Schema::add_map(std::string_view path, Schema entry, std::string description,
                     std::string_view default_entries) {
  std::vector<std::string> segs = split_path(path);
  Node* cur = root_.get();
  for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
    Node* child = cur->find(segs[i]);
    if (!child) {
      Node g;
      g.type = Node::Type::group;
      g.name = segs[i];
      cur->children.push_back(std::move(g));
      child = &cur->children.back();
    }
    ROADMQ_ASSERT(child->type == Node::Type::group);
    cur = child;
  }
  ROADMQ_ASSERT(cur->find(segs.back()) == nullptr);
  Node m;
  m.type = Node::Type::map;
  m.name = segs.back();
  m.description = std::move(description);
  m.children = std::move(entry.root_->children);
  if (!default_entries.empty()) {
    auto parsed = parse(default_entries, "(default)");
    ROADMQ_ASSERT(parsed.has_value());
    if (parsed) {
      m.map_defaults = std::move(*parsed);
      relocate(m.map_defaults, Location{});
    }
  }
  cur->children.push_back(std::move(m));
}

Expected<Resolved, Errors> Schema::validate(const Value& root) const {
  Validator v(*root_);
  if (!root.is_object()) {
    return Unexpected{Errors{{root.location(), "expected an object at the top level"}}};
  }
  v.group(*root_, &root, "", root.location());
  Errors errors = v.take_errors();
  if (!errors.empty()) {
    // Traversal follows the schema; users read files top to bottom.
    std::stable_sort(errors.begin(), errors.end(), [](const Error& a, const Error& b) {
      if (a.where.has_position() != b.where.has_position()) return a.where.has_position();
      if (a.where.file_name() != b.where.file_name())
        return a.where.file_name() < b.where.file_name();
      if (a.where.line != b.where.line) return a.where.line < b.where.line;
      return a.where.col < b.where.col;
    });
    return Unexpected{std::move(errors)};
  }
  return v.take_resolved();
}

Schema::Lookup Schema::lookup(const std::vector<std::string>& path) const {
  using What = Lookup::What;
  const Node* cur = root_.get();
  bool expect_entry_name = false;
  std::string prefix;
  for (std::size_t i = 0; i < path.size(); ++i) {
    bool last = i + 1 == path.size();
    if (expect_entry_name) {
      // Any name is an entry of a map; `cur` stays the map, whose children
      // are the entry's fields.
      expect_entry_name = false;
      if (!valid_entry_name(path[i])) return {What::unknown, {}};
      prefix += path[i] + ".";
      if (last) return {What::map_entry, {}};
      continue;
    }
    const Node* child = cur->find(path[i]);
    if (!child) return {What::unknown, suggest(*root_, cur->children, path[i], prefix)};
    prefix += path[i] + ".";
    switch (child->type) {
      case Node::Type::leaf:
        if (last) return {What::leaf, {}};
        return {What::unknown, prefix.substr(0, prefix.size() - 1)};
      case Node::Type::group:
        if (last) return {What::group, {}};
        break;
      case Node::Type::map:
        if (last) return {What::map, {}};
        expect_entry_name = true;
        break;
    }
    cur = child;
  }
  return {What::group, {}};  // empty path: the root
}

namespace {
void walk(const Node& node, const std::string& prefix,
          const std::function<void(const std::string&, const KeySpec&)>& fn) {
  for (const Node& c : node.children) {
    switch (c.type) {
      case Node::Type::leaf:
        fn(prefix + c.name, c.spec);
        break;
      case Node::Type::group:
        walk(c, prefix + c.name + ".", fn);
        break;
      case Node::Type::map:
        walk(c, prefix + c.name + ".<name>.", fn);
        break;
    }
  }
}
}  // namespace

void Schema::for_each_key(
    const std::function<void(const std::string& path, const KeySpec&)>& fn) const {
  walk(*root_, "", fn);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment over three rolling rows.
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace roadmq::config
