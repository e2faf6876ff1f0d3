#include "config/value.hpp"

#include "base/json_string.hpp"

#include <charconv>
#include <cstdio>
#include <utility>

#include "base/assert.hpp"

namespace roadmq::config {

std::string Location::str() const {
  std::string out(file_name());
  if (line != 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(col);
  }
  return out;
}

std::string Error::str() const {
  std::string out = where.str();
  if (!out.empty()) out += ": ";
  out += message;
  return out;
}

std::string join(const Errors& errors) {
  std::string out;
  for (const Error& e : errors) {
    if (!out.empty()) out += '\n';
    out += e.str();
  }
  return out;
}

// Out of line because Member is incomplete in the header.
Value::Value() = default;
Value::~Value() = default;
Value::Value(const Value&) = default;
Value::Value(Value&&) noexcept = default;
Value& Value::operator=(const Value&) = default;
Value& Value::operator=(Value&&) noexcept = default;

Value Value::null(Location where) {
  Value v;
  v.where_ = std::move(where);
  return v;
}
Value Value::boolean(bool b, Location where) {
  Value v;
  v.data_ = b;
  v.where_ = std::move(where);
  return v;
}
Value Value::integer(std::int64_t i, Location where) {
  Value v;
  v.data_ = i;
  v.where_ = std::move(where);
  return v;
}
Value Value::floating(double d, Location where) {
  Value v;
  v.data_ = d;
  v.where_ = std::move(where);
  return v;
}
Value Value::string(std::string s, Location where) {
  Value v;
  v.data_ = std::move(s);
  v.where_ = std::move(where);
  return v;
}
Value Value::array(Array items, Location where) {
  Value v;
  v.data_ = std::move(items);
  v.where_ = std::move(where);
  return v;
}
Value Value::object(Location where) {
  Value v;
  v.data_ = Object{};
  v.where_ = std::move(where);
  return v;
}

bool Value::as_bool() const {
  ROADMQ_ASSERT(is_bool());
  return std::get<bool>(data_);
}
std::int64_t Value::as_int() const {
  ROADMQ_ASSERT(is_int());
  return std::get<std::int64_t>(data_);
}
double Value::as_double() const {
  ROADMQ_ASSERT(is_number());
  if (is_int()) return static_cast<double>(std::get<std::int64_t>(data_));
  return std::get<double>(data_);
}
const std::string& Value::as_string() const {
  ROADMQ_ASSERT(is_string());
  return std::get<std::string>(data_);
}
const Value::Array& Value::items() const {
  ROADMQ_ASSERT(is_array());
  return std::get<Array>(data_);
}
Value::Array& Value::items() {
  ROADMQ_ASSERT(is_array());
  return std::get<Array>(data_);
}
const Value::Object& Value::members() const {
  ROADMQ_ASSERT(is_object());
  return std::get<Object>(data_);
}
Value::Object& Value::members() {
  ROADMQ_ASSERT(is_object());
  return std::get<Object>(data_);
}

const Member* Value::find_member(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : std::get<Object>(data_)) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

const Value* Value::find(std::string_view key) const {
  const Member* m = find_member(key);
  return m ? &m->value : nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(std::as_const(*this).find(key));
}

Value& Value::set(std::string key, Value v, Location key_where) {
  ROADMQ_ASSERT(is_object());
  Object& obj = std::get<Object>(data_);
  for (Member& m : obj) {
    if (m.key == key) {
      m.value = std::move(v);
      m.key_location = std::move(key_where);
      return m.value;
    }
  }
  obj.push_back(Member{std::move(key), std::move(key_where), std::move(v)});
  return obj.back().value;
}

bool Value::erase(std::string_view key) {
  if (!is_object()) return false;
  Object& obj = std::get<Object>(data_);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it->key == key) {
      obj.erase(it);
      return true;
    }
  }
  return false;
}

namespace {

std::string format_double(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc()) return "0.0";  // unreachable: 64 bytes fit any double
  std::string out(buf, end);
  // Keep it a double when read back: "1" would come back as an integer.
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
  return out;
}

}  // namespace

std::string Value::describe() const {
  switch (type()) {
    case Type::null:
      return "null";
    case Type::boolean:
      return raw_.empty() ? (as_bool() ? "true" : "false") : raw_;
    case Type::integer:
      return raw_.empty() ? std::to_string(as_int()) : raw_;
    case Type::floating:
      return raw_.empty() ? format_double(std::get<double>(data_)) : raw_;
    case Type::string: {
      // Long values (certificates, say) would drown the message.
      constexpr std::size_t kMax = 64;
      const std::string& s = as_string();
      if (s.size() <= kMax) return quote(s);
      std::size_t cut = kMax;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      return quote(s.substr(0, cut)) + "...";
    }
    case Type::array:
      return "a list";
    case Type::object:
      return "an object";
  }
  return "?";
}

bool equivalent(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::null:
      return true;
    case Value::Type::boolean:
      return a.as_bool() == b.as_bool();
    case Value::Type::integer:
      return a.as_int() == b.as_int();
    case Value::Type::floating:
      return a.as_double() == b.as_double();
    case Value::Type::string:
      return a.as_string() == b.as_string();
    case Value::Type::array: {
      const auto& x = a.items();
      const auto& y = b.items();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!equivalent(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Type::object: {
      if (a.members().size() != b.members().size()) return false;
      for (const Member& m : a.members()) {
        const Value* other = b.find(m.key);
        if (!other || !equivalent(m.value, *other)) return false;
      }
      return true;
    }
  }
  return false;
}

void merge(Value& base, Value overlay) {
  if (!base.is_object() || !overlay.is_object()) {
    base = std::move(overlay);
    return;
  }
  for (Member& m : overlay.members()) {
    if (Value* existing = base.find(m.key)) {
      merge(*existing, std::move(m.value));
    } else {
      base.set(std::move(m.key), std::move(m.value), std::move(m.key_location));
    }
  }
}

void set_path(Value& root, const std::vector<std::string>& path, Value v, const Location& where) {
  ROADMQ_ASSERT(root.is_object());
  ROADMQ_ASSERT(!path.empty());
  Value* cur = &root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    Value* next = cur->find(path[i]);
    if (!next || !next->is_object()) next = &cur->set(path[i], Value::object(where), where);
    cur = next;
  }
  if (Value* existing = cur->find(path.back())) {
    merge(*existing, std::move(v));
  } else {
    cur->set(path.back(), std::move(v), where);
  }
}

void relocate(Value& v, const Location& where) {
  v.set_location(where);
  if (v.is_array()) {
    for (Value& item : v.items()) relocate(item, where);
  } else if (v.is_object()) {
    for (Member& m : v.members()) {
      m.key_location = where;
      relocate(m.value, where);
    }
  }
}

namespace {

bool is_plain_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

void write_value(std::string& out, const Value& v, int indent);

void write_indent(std::string& out, int indent) {
  out.append(static_cast<std::size_t>(indent) * 2, ' ');
}

void write_members(std::string& out, const Value& obj, int indent) {
  for (const Member& m : obj.members()) {
    write_indent(out, indent);
    out += format_key(m.key);
    out += m.value.is_object() ? " " : " = ";
    write_value(out, m.value, indent);
    out += '\n';
  }
}

void write_value(std::string& out, const Value& v, int indent) {
  switch (v.type()) {
    case Value::Type::null:
      out += "null";
      return;
    case Value::Type::boolean:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Type::integer:
      out += std::to_string(v.as_int());
      return;
    case Value::Type::floating:
      out += format_double(v.as_double());
      return;
    case Value::Type::string:
      out += quote(v.as_string());
      return;
    case Value::Type::array: {
      const auto& items = v.items();
      bool flat = true;
      for (const Value& item : items) flat = flat && item.is_scalar();
      out += '[';
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (flat) {
          if (i != 0) out += ", ";
        } else {
          out += i == 0 ? "\n" : ",\n";
          write_indent(out, indent + 1);
        }
        write_value(out, items[i], indent + 1);
      }
      if (!flat && !items.empty()) {
        out += '\n';
        write_indent(out, indent);
      }
      out += ']';
      return;
    }
    case Value::Type::object:
      if (v.members().empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      write_members(out, v, indent + 1);
      write_indent(out, indent);
      out += '}';
      return;
  }
}

}  // namespace

std::string to_hocon(const Value& v) {
  std::string out;
  if (v.is_object()) {
    write_members(out, v, 0);
  } else {
    write_value(out, v, 0);
    out += '\n';
  }
  return out;
}

std::string format_key(std::string_view key) {
  bool plain = !key.empty();
  for (char c : key) plain = plain && is_plain_key_char(c);
  if (plain) return std::string(key);
  return quote(key);
}

std::string format_path(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& seg : path) {
    if (!out.empty()) out += '.';
    out += format_key(seg);
  }
  return out;
}

std::string quote(std::string_view s) { return json_string(s); }

}  // namespace roadmq::config
