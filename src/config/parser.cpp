#include "config/parser.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace roadmq::config {
namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || static_cast<unsigned char>(c) >= 0x80;
}

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(c));
  return buf;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Offset of the first byte that is not part of well-formed UTF-8 (no
// overlongs, no surrogates, nothing above U+10FFFF), or npos.
std::size_t find_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

class Parser {
 public:
  Parser(std::string_view text, std::shared_ptr<const std::string> file,
         const ParseOptions& options, std::uint32_t include_depth)
      : s_(text), file_(std::move(file)), options_(options), include_depth_(include_depth) {}

  // Parses a whole document into `target` (an object), merging as it goes.
  bool document(Value& target, std::uint32_t depth) {
    if (!check_encoding()) return false;
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // BOM: invisible, and no column
    skip_all();
    if (peek() == '{') {
      // A braced root, as in JSON.
      Location open = here();
      bump();
      if (!members(target, /*braced=*/true, open, depth)) return false;
      skip_all();
      if (!eof()) return fail(here(), "unexpected " + describe_next() + " after the closing '}'");
      return true;
    }
    return members(target, /*braced=*/false, Location{}, depth);
  }

  bool single_value(Value& out) {
    if (!check_encoding()) return false;
    skip_all();
    if (!value(out, 0)) return false;
    skip_all();
    if (!eof()) return fail(here(), "unexpected " + describe_next() + " after the value");
    return true;
  }

  Error take_error() { return std::move(*error_); }

 private:
  // ---- cursor -------------------------------------------------------------

  bool eof() const { return pos_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
  }
  bool at(std::string_view lit) const { return s_.substr(pos_, lit.size()) == lit; }

  void bump() {
    char c = s_[pos_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      // Count code points, as editors do: continuation bytes add nothing.
      ++col_;
    }
  }
  void bump(std::size_t n) {
    for (std::size_t i = 0; i < n && !eof(); ++i) bump();
  }

  Location here() const { return Location{file_, line_, col_}; }

  bool fail(Location where, std::string message) {
    if (!error_) error_ = Error{std::move(where), std::move(message)};
    return false;
  }

  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }

  // Spaces, tabs, carriage returns and comments; stops at a new line.
  void skip_inline() {
    while (!eof()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        bump();
      } else if (at_comment()) {
        while (!eof() && peek() != '\n') bump();
      } else {
        break;
      }
    }
  }
  void skip_spaces() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\r') bump();
  }
  void skip_all() {
    for (;;) {
      skip_inline();
      if (peek() != '\n' || eof()) return;
      bump();
    }
  }

  // What the cursor points at, for "expected X, got Y" messages.
  std::string describe_next() const {
    if (eof()) return "end of file";
    char c = peek();
    if (c == '\n' || c == '\r') return "end of line";
    if (c == ' ' || c == '\t') return "a space";
    if (is_control(c)) return "control character " + hex_byte(static_cast<unsigned char>(c));
    if (is_key_char(c) && static_cast<unsigned char>(c) < 0x80) {
      // A word: show it whole (up to a limit) so the user recognises it.
      std::size_t end = pos_;
      while (end < s_.size() && end - pos_ < 32 && (is_key_char(s_[end]) || s_[end] == '.') &&
             static_cast<unsigned char>(s_[end]) < 0x80) {
        ++end;
      }
      return quote(s_.substr(pos_, end - pos_));
    }
    if (static_cast<unsigned char>(c) >= 0x80) return "a non-ASCII character";
    return std::string("'") + c + "'";
  }

  bool check_encoding() {
    std::size_t bad = find_invalid_utf8(s_);
    if (bad == std::string_view::npos) return true;
    // Locate it the way the cursor would; the cursor is at the start.
    while (pos_ < bad) bump();
    return fail(here(),
                "invalid UTF-8 (byte " + hex_byte(static_cast<unsigned char>(s_[bad])) + ")");
  }

  // ---- grammar ------------------------------------------------------------

  // Entries of an object body up to '}' (braced) or end of input.
  bool members(Value& obj, bool braced, const Location& open, std::uint32_t depth) {
    for (;;) {
      skip_all();
      if (eof()) {
        if (braced) return fail(open, "'{' is never closed (missing '}')");
        return true;
      }
      char c = peek();
      if (c == '}') {
        if (!braced) return fail(here(), "unexpected '}' (no '{' to close)");
        bump();
        return true;
      }
      if (c == ',') return fail(here(), "unexpected ',' (expected a key)");
      std::string key;
      if (!member(obj, depth, key)) return false;
      skip_inline();
      if (eof() || peek() == '\n' || peek() == '}') continue;
      if (peek() == ',') {
        bump();
        continue;
      }
      return fail(here(), std::string("expected ',' or a new line after the value of ") +
                              quote(key) + ", got " + describe_next());
    }
  }

  // One `key = value`, `key { ... }` or `include "file"`. `key_text` receives
  // the key as written, for the caller's messages.
  bool member(Value& obj, std::uint32_t depth, std::string& key_text) {
    if (at("include") && (peek(7) == ' ' || peek(7) == '\t')) {
      // `include` is only a directive when a quoted name follows; otherwise
      // it is an ordinary key.
      std::size_t save_pos = pos_;
      std::uint32_t save_line = line_, save_col = col_;
      Location where = here();
      bump(7);
      skip_spaces();
      if (peek() == '"') {
        key_text = "include";
        return include(obj, depth, where);
      }
      pos_ = save_pos;
      line_ = save_line;
      col_ = save_col;
    }

    std::vector<std::string> path;
    std::vector<Location> locs;
    Location start = here();
    if (!key_path(path, locs)) return false;
    key_text = format_path(path);
    if (path.size() > options_.max_depth || depth + path.size() > options_.max_depth) {
      return fail(start, "nesting is too deep (more than " + std::to_string(options_.max_depth) +
                             " levels)");
    }
    std::uint32_t value_depth = depth + static_cast<std::uint32_t>(path.size()) - 1;

    skip_spaces();
    Value v;
    char c = peek();
    if (c == '=' || c == ':') {
      bump();
      skip_spaces();
      if (eof() || peek() == '\n' || at_comment() || peek() == ',' || peek() == '}') {
        return fail(here(), "missing value for key " + quote(key_text));
      }
      if (!value(v, value_depth)) return false;
    } else if (c == '{') {
      if (!object(v, value_depth)) return false;
    } else if (c == '+' && peek(1) == '=') {
      return fail(here(), "'+=' is not supported; write the whole list");
    } else {
      return fail(here(), "expected '=' or ':' after key " + quote(key_text));
    }

    // Walk/create the dotted path; each created level remembers where its
    // segment was written.
    Value* cur = &obj;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
      Value* next = cur->find(path[i]);
      if (!next || !next->is_object()) next = &cur->set(path[i], Value::object(locs[i]), locs[i]);
      cur = next;
    }
    if (Value* existing = cur->find(path.back())) {
      merge(*existing, std::move(v));
    } else {
      cur->set(path.back(), std::move(v), locs.back());
    }
    return true;
  }

  bool key_path(std::vector<std::string>& path, std::vector<Location>& locs) {
    for (;;) {
      Location loc = here();
      std::string seg;
      if (peek() == '"') {
        if (at("\"\"\"")) return fail(loc, "a key cannot be a \"\"\" string");
        if (!quoted_string(seg)) return false;
      } else if (is_key_char(peek()) && !eof()) {
        std::size_t start = pos_;
        while (!eof() && is_key_char(peek())) bump();
        seg.assign(s_.substr(start, pos_ - start));
      } else if (path.empty()) {
        return fail(loc, "expected a key, got " + describe_next());
      } else {
        return fail(loc, "expected a key after '.', got " + describe_next());
      }
      path.push_back(std::move(seg));
      locs.push_back(std::move(loc));
      if (path.size() > options_.max_depth) {
        return fail(locs.front(), "key has too many segments (more than " +
                                      std::to_string(options_.max_depth) + ")");
      }
      if (peek() != '.') break;
      bump();
    }
    char c = peek();
    if (!eof() && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '=' && c != ':' &&
        c != '{' && c != '+' && !at_comment()) {
      return fail(here(), "unexpected " + describe_next() + " in key " + quote(format_path(path)) +
                              " (quote keys that contain it)");
    }
    return true;
  }

  bool value(Value& out, std::uint32_t depth) {
    char c = peek();
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      Location loc = here();
      std::string s;
      if (at("\"\"\"")) {
        if (!raw_string(s)) return false;
      } else if (!quoted_string(s)) {
        return false;
      }
      out = Value::string(std::move(s), std::move(loc));
      return true;
    }
    return unquoted(out);
  }

  bool object(Value& out, std::uint32_t depth) {
    Location open = here();
    if (depth + 1 > options_.max_depth) {
      return fail(open, "nesting is too deep (more than " + std::to_string(options_.max_depth) +
                            " levels)");
    }
    bump();  // '{'
    out = Value::object(open);
    return members(out, /*braced=*/true, open, depth + 1);
  }

  bool array(Value& out, std::uint32_t depth) {
    Location open = here();
    if (depth + 1 > options_.max_depth) {
      return fail(open, "nesting is too deep (more than " + std::to_string(options_.max_depth) +
                            " levels)");
    }
    bump();  // '['
    Value::Array items;
    for (;;) {
      skip_all();
      if (eof()) return fail(open, "'[' is never closed (missing ']')");
      if (peek() == ']') {
        bump();
        break;
      }
      if (peek() == ',') return fail(here(), "unexpected ',' (expected a list element)");
      Value item;
      if (!value(item, depth + 1)) return false;
      items.push_back(std::move(item));
      skip_inline();
      if (eof() || peek() == '\n' || peek() == ']') continue;
      if (peek() == ',') {
        bump();
        continue;
      }
      return fail(here(), "expected ',' or ']' after a list element, got " + describe_next());
    }
    out = Value::array(std::move(items), std::move(open));
    return true;
  }

  bool unquoted(Value& out) {
    Location loc = here();
    std::size_t start = pos_;
    while (!eof()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '}' || c == ']' ||
          c == '{' || c == '[' || c == '"' || c == '=' || c == '#' || is_control(c) ||
          (c == '/' && peek(1) == '/')) {
        break;
      }
      if (c == '$') {
        return fail(here(),
                    "substitutions (${...}) are not supported; quote the value if '$' is "
                    "meant literally");
      }
      bump();
    }
    if (pos_ == start) return fail(loc, "expected a value, got " + describe_next());
    out = parse_scalar(s_.substr(start, pos_ - start), std::move(loc));
    return true;
  }

  bool hex4(std::uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      std::uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      cp = cp * 16 + d;
      bump();
    }
    return true;
  }

  bool quoted_string(std::string& out) {
    Location open = here();
    bump();  // '"'
    for (;;) {
      if (eof()) return fail(open, "unterminated string (missing '\"')");
      char c = peek();
      if (c == '"') {
        bump();
        return true;
      }
      if (c == '\n') {
        return fail(open,
                    "unterminated string (a quoted string ends on its line; use \\n or "
                    "\"\"\"...\"\"\" for several lines)");
      }
      if (c == '\\') {
        Location esc = here();
        bump();
        if (eof()) return fail(open, "unterminated string (missing '\"')");
        char e = peek();
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            bump();
            break;
          case 'b':
            out += '\b';
            bump();
            break;
          case 'f':
            out += '\f';
            bump();
            break;
          case 'n':
            out += '\n';
            bump();
            break;
          case 'r':
            out += '\r';
            bump();
            break;
          case 't':
            out += '\t';
            bump();
            break;
          case 'u': {
            bump();
            std::uint32_t cp;
            if (!hex4(cp)) return fail(esc, "\\u must be followed by 4 hex digits");
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return fail(esc, "\\u escape is a lone low surrogate");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              // UTF-16 pair: the low half must follow directly.
              std::uint32_t low;
              if (!(peek() == '\\' && peek(1) == 'u')) {
                return fail(esc, "\\u escape is a high surrogate without its low half");
              }
              bump(2);
              if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) {
                return fail(esc, "\\u escape is a high surrogate without its low half");
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            if (e == '\n' || is_control(e) || static_cast<unsigned char>(e) >= 0x80) {
              return fail(esc, "invalid escape in string");
            }
            return fail(esc, std::string("invalid escape '\\") + e + "' in string");
        }
        continue;
      }
      if (is_control(c) && c != '\t') {
        return fail(here(), "control character " + hex_byte(static_cast<unsigned char>(c)) +
                                " in string; write it as an escape");
      }
      out += c;
      bump();
    }
  }

  // """...""": no escapes, may span lines. As in HOCON, extra quotes right
  // before the closing three belong to the string.
  bool raw_string(std::string& out) {
    Location open = here();
    bump(3);
    std::size_t close = s_.find("\"\"\"", pos_);
    if (close == std::string_view::npos) return fail(open, "unterminated \"\"\" string");
    while (close + 3 < s_.size() && s_[close + 3] == '"') ++close;
    out.assign(s_.substr(pos_, close - pos_));
    while (pos_ < close + 3) bump();
    return true;
  }

  bool include(Value& obj, std::uint32_t depth, const Location& where) {
    std::string name;
    if (at("\"\"\"")) return fail(here(), "include needs a \"quoted\" file name");
    if (!quoted_string(name)) return false;
    if (!options_.include_loader) return fail(where, "include is not available here");
    if (include_depth_ >= options_.max_include_depth) {
      return fail(where, "includes nested more than " + std::to_string(options_.max_include_depth) +
                             " deep (do files include each other?)");
    }
    auto loaded = options_.include_loader(file_ ? *file_ : std::string(), name);
    if (!loaded) return fail(where, "cannot include " + quote(name) + ": " + loaded.error());
    Parser sub(loaded->text, std::make_shared<const std::string>(loaded->name), options_,
               include_depth_ + 1);
    if (!sub.document(obj, depth)) {
      error_ = sub.take_error();
      return false;
    }
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t col_ = 1;
  std::shared_ptr<const std::string> file_;
  const ParseOptions& options_;
  std::uint32_t include_depth_;
  std::optional<Error> error_;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// JSON number grammar, except that leading zeros are allowed.
// Returns 0 = not a number, 1 = integer, 2 = floating point.
int number_shape(std::string_view t) {
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  std::size_t digits = i;
  while (i < t.size() && is_digit(t[i])) ++i;
  if (i == digits) return 0;
  int shape = 1;
  if (i < t.size() && t[i] == '.') {
    ++i;
    std::size_t frac = i;
    while (i < t.size() && is_digit(t[i])) ++i;
    if (i == frac) return 0;
    shape = 2;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    std::size_t exp = i;
    while (i < t.size() && is_digit(t[i])) ++i;
    if (i == exp) return 0;
    shape = 2;
  }
  return i == t.size() ? shape : 0;
}

}  // namespace

Value parse_scalar(std::string_view token, Location where) {
  Value v;
  if (token == "true" || token == "on") {
    v = Value::boolean(true, std::move(where));
  } else if (token == "false" || token == "off") {
    v = Value::boolean(false, std::move(where));
  } else if (token == "null") {
    v = Value::null(std::move(where));
  } else if (int shape = number_shape(token); shape != 0) {
    const char* first = token.data();
    const char* last = token.data() + token.size();
    std::int64_t i = 0;
    double d = 0;
    if (shape == 1 && std::from_chars(first, last, i).ec == std::errc()) {
      v = Value::integer(i, std::move(where));
    } else if (auto r = std::from_chars(first, last, d); r.ec == std::errc() && r.ptr == last) {
      v = Value::floating(d, std::move(where));
    } else {
      // Beyond double range: keep the text; a numeric key will reject it.
      return Value::string(std::string(token), std::move(where));
    }
  } else {
    return Value::string(std::string(token), std::move(where));
  }
  v.set_raw(std::string(token));
  return v;
}

Expected<Value, Error> parse(std::string_view text, std::string_view filename,
                             const ParseOptions& options) {
  Parser p(text, std::make_shared<const std::string>(filename), options, 0);
  Value root = Value::object(Location{std::make_shared<const std::string>(filename), 1, 1});
  if (!p.document(root, 0)) return Unexpected{p.take_error()};
  return root;
}

Expected<Value, Error> parse_value(std::string_view text, std::string_view source) {
  ParseOptions options;
  Parser p(text, std::make_shared<const std::string>(source), options, 0);
  Value v;
  if (!p.single_value(v)) return Unexpected{p.take_error()};
  return v;
}

Expected<std::string, std::string> read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Unexpected{"cannot read " + path + ": " + std::strerror(errno)};
  std::string text;
  char buf[8192];
  for (;;) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    text.append(buf, n);
    if (n < sizeof buf) break;
  }
  // Reading a directory "opens" fine on Linux and fails here with EISDIR.
  int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Unexpected{"cannot read " + path + ": " + std::strerror(err)};
  return text;
}

IncludeLoader filesystem_include_loader() {
  return [](std::string_view including_file,
            std::string_view requested) -> Expected<IncludedFile, std::string> {
    std::filesystem::path p(requested);
    if (p.is_relative()) p = std::filesystem::path(including_file).parent_path() / p;
    std::string name = p.lexically_normal().string();
    auto text = read_text_file(name);
    if (!text) return Unexpected{text.error()};
    return IncludedFile{std::move(name), std::move(*text)};
  };
}

Expected<Value, Error> parse_file(const std::string& path) {
  auto text = read_text_file(path);
  if (!text) {
    return Unexpected{Error{Location{}, text.error()}};
  }
  ParseOptions options;
  options.include_loader = filesystem_include_loader();
  return parse(*text, path, options);
}

}  // namespace roadmq::config
