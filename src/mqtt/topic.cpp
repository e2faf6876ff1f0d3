#include "mqtt/topic.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/assert.hpp"
#include "mqtt/utf8.hpp"

namespace roadmq::mqtt {
namespace {

constexpr std::string_view kSharePrefix = "$share/";
constexpr std::string_view kQueuePrefix = "$queue/";
constexpr std::string_view kQueueGroup = "$queue";

// Names and filters break the same string-level rules; only the reason code
// and the wording differ, so each kind carries its own set of literals.
struct StringRules {
  ReasonCode reason;
  std::string_view empty;
  std::string_view too_long;
  std::string_view null_character;
  std::string_view ill_formed;
};

constexpr StringRules kNameRules{
    ReasonCode::topic_name_invalid,
    "[MQTT-4.7.3-1] Topic Name must be at least one character long",
    "[MQTT-4.7.3-3] Topic Name must not encode to more than 65535 bytes",
    "[MQTT-4.7.3-2] Topic Name must not include U+0000",
    "[MQTT-1.5.4-1] Topic Name must be well-formed UTF-8",
};

constexpr StringRules kFilterRules{
    ReasonCode::topic_filter_invalid,
    "[MQTT-4.7.3-1] Topic Filter must be at least one character long",
    "[MQTT-4.7.3-3] Topic Filter must not encode to more than 65535 bytes",
    "[MQTT-4.7.3-2] Topic Filter must not include U+0000",
    "[MQTT-1.5.4-1] Topic Filter must be well-formed UTF-8",
};

std::optional<CodecError> check_string(std::string_view s, const StringRules& rules) noexcept {
  if (s.empty()) return CodecError{rules.reason, rules.empty};
  switch (check_mqtt_utf8(s)) {
    case Utf8Status::ok:
      return std::nullopt;
    case Utf8Status::too_long:
      return CodecError{rules.reason, rules.too_long};
    case Utf8Status::null_character:
      return CodecError{rules.reason, rules.null_character};
    case Utf8Status::ill_formed:
      return CodecError{rules.reason, rules.ill_formed};
  }
  return CodecError{rules.reason, rules.ill_formed};
}

constexpr bool is_wildcard(char c) noexcept { return c == '+' || c == '#'; }

constexpr std::uint64_t kLowBits = 0x0101'0101'0101'0101ULL;
constexpr std::uint64_t kHighBits = 0x8080'8080'8080'8080ULL;

// Non-zero iff some byte of `w` equals `c` (borrow trick; exact for "any").
constexpr bool has_byte(std::uint64_t w, char c) noexcept {
  const std::uint64_t x = w ^ (kLowBits * static_cast<unsigned char>(c));
  return ((x - kLowBits) & ~x & kHighBits) != 0;
}

// Every PUBLISH is checked: eight bytes per step.
bool contains_wildcard(std::string_view s) noexcept {
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (has_byte(w, '+') || has_byte(w, '#')) return true;
  }
  for (; n > 0; ++p, --n) {
    if (is_wildcard(*p)) return true;
  }
  return false;
}

// The wildcard rules of a plain (non-shared) filter, already known to be
// non-empty, well-formed UTF-8. Wildcards are ASCII, so a byte scan cannot
// mistake part of a multi-byte character for one.
std::optional<CodecError> check_wildcards(std::string_view f) noexcept {
  const std::size_t n = f.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = f[i];
    if (!is_wildcard(c)) continue;
    const bool starts_level = i == 0 || f[i - 1] == '/';
    const bool ends_level = i + 1 == n || f[i + 1] == '/';
    if (c == '+') {
      if (!starts_level || !ends_level) {
        return CodecError{ReasonCode::topic_filter_invalid,
                          "[MQTT-4.7.1-3] '+' must occupy an entire level"};
      }
    } else {
      if (!starts_level || !ends_level) {
        return CodecError{ReasonCode::topic_filter_invalid,
                          "[MQTT-4.7.1-2] '#' must occupy an entire level"};
      }
      if (i + 1 != n) {
        return CodecError{ReasonCode::topic_filter_invalid,
                          "[MQTT-4.7.1-2] '#' must be the last level"};
      }
    }
  }
  return std::nullopt;
}

// One level of a topic string; `last` when no '/' follows it.
struct Level {
  std::string_view text;
  bool last;
};

Level level_at(std::string_view s, std::size_t pos) noexcept {
  const std::size_t slash = s.find('/', pos);
  if (slash == std::string_view::npos) return {s.substr(pos), true};
  return {s.substr(pos, slash - pos), false};
}

}  // namespace

std::optional<CodecError> validate_topic_name(std::string_view name) noexcept {
  if (auto err = check_string(name, kNameRules)) return err;
  return check_topic_name_shape(name);
}

std::optional<CodecError> check_topic_name_shape(std::string_view name) noexcept {
  if (name.empty()) return CodecError{kNameRules.reason, kNameRules.empty};
  if (contains_wildcard(name)) {
    return CodecError{ReasonCode::topic_name_invalid,
                      "[MQTT-3.3.2-2] Topic Name must not contain '+' or '#'"};
  }
  return std::nullopt;
}

std::optional<CodecError> validate_topic_filter(std::string_view filter) noexcept {
  // Length and UTF-8 apply to the whole string as sent, prefix included.
  if (auto err = check_string(filter, kFilterRules)) return err;

  std::string_view plain = filter;
  if (filter.starts_with(kSharePrefix)) {
    const std::string_view rest = filter.substr(kSharePrefix.size());
    const std::size_t slash = rest.find('/');
    // The group ends at the first '/', so it can never contain one; a group
    // without a following '/' is caught below.
    const std::string_view group = rest.substr(0, slash);
    if (group.empty()) {
      return CodecError{ReasonCode::topic_filter_invalid,
                        "[MQTT-4.8.2-1] ShareName must be at least one character long"};
    }
    if (contains_wildcard(group)) {
      return CodecError{ReasonCode::topic_filter_invalid,
                        "[MQTT-4.8.2-2] ShareName must not contain '+' or '#'"};
    }
    if (slash == std::string_view::npos || slash + 1 == rest.size()) {
      return CodecError{ReasonCode::topic_filter_invalid,
                        "[MQTT-4.8.2-2] ShareName must be followed by '/' and a Topic Filter"};
    }
    plain = rest.substr(slash + 1);
  } else if (filter.starts_with(kQueuePrefix)) {
    // "$queue/" is the pre-5.0 shared-subscription form some clients still
    // send; the spec has no rule of its own for it, so the filter after it
    // answers to the ordinary one.
    plain = filter.substr(kQueuePrefix.size());
    if (plain.empty()) {
      return CodecError{ReasonCode::topic_filter_invalid,
                        "[MQTT-4.7.3-1] $queue/ must be followed by a non-empty Topic Filter"};
    }
  }
  return check_wildcards(plain);
}

bool has_wildcard(std::string_view filter) noexcept { return contains_wildcard(filter); }

std::vector<std::string_view> split_levels(std::string_view topic) {
  std::size_t count = 1;
  for (char c : topic) {
    if (c == '/') ++count;
  }
  std::vector<std::string_view> levels;
  levels.reserve(count);
  std::size_t pos = 0;
  for (;;) {
    const Level level = level_at(topic, pos);
    levels.push_back(level.text);
    if (level.last) break;
    pos += level.text.size() + 1;
  }
  return levels;
}

bool topic_matches(std::string_view filter, std::string_view name) noexcept {
  ROADMQ_ASSERT(!filter.empty() && !name.empty());
  // [MQTT-4.7.2-1]: "$SYS/..." and the like are invisible to "#" and "+/...",
  // so a client subscribing to everything does not receive broker internals.
  if (name.front() == '$' && is_wildcard(filter.front())) return false;

  // One pass over both strings, a level at a time. Comparing bytes in place
  // (rather than finding each '/' first) halves the cost on typical
  // vehicle/{vin}/... topics. `f` and `n` always sit at the start of a level.
  const std::size_t fsize = filter.size();
  const std::size_t nsize = name.size();
  std::size_t f = 0;
  std::size_t n = 0;
  bool name_done = false;  // every level of the name has been matched
  for (;;) {
    // '#' also matches the parent level: "sport/#" matches "sport"
    // [MQTT-4.7.1-2], which is the name_done case. A valid filter has '#'
    // only here, as its whole last level.
    if (f < fsize && filter[f] == '#') return true;
    if (name_done) return false;
    if (f < fsize && filter[f] == '+') {
      ++f;  // a valid filter has '+' as a whole level, so f is now at its end
      while (n < nsize && name[n] != '/') ++n;
    } else {
      while (f < fsize && n < nsize && filter[f] == name[n] && filter[f] != '/') {
        ++f;
        ++n;
      }
      const bool filter_level_ended = f == fsize || filter[f] == '/';
      const bool name_level_ended = n == nsize || name[n] == '/';
      if (!filter_level_ended || !name_level_ended) return false;
    }
    if (f == fsize) return n == nsize;
    ++f;
    if (n == nsize) {
      name_done = true;
    } else {
      ++n;
    }
  }
}

std::optional<SharedFilter> parse_shared(std::string_view filter) noexcept {
  if (filter.starts_with(kSharePrefix)) {
    const std::string_view rest = filter.substr(kSharePrefix.size());
    const std::size_t slash = rest.find('/');
    // Callers validate first; for a malformed filter this still returns
    // views inside `filter` rather than failing, with an empty filter part.
    if (slash == std::string_view::npos) return SharedFilter{rest, rest.substr(rest.size())};
    return SharedFilter{rest.substr(0, slash), rest.substr(slash + 1)};
  }
  if (filter.starts_with(kQueuePrefix)) {
    return SharedFilter{filter.substr(0, kQueueGroup.size()), filter.substr(kQueuePrefix.size())};
  }
  return std::nullopt;
}

}  // namespace roadmq::mqtt
