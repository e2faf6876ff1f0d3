#include "config/units.hpp"

#include <charconv>
#include <limits>

namespace roadmq::config {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading decimal digits of `s` as an unsigned number; advances `i`.
std::optional<std::uint64_t> read_digits(std::string_view s, std::size_t& i) {
  std::size_t start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == start) return std::nullopt;
  std::uint64_t n = 0;
  auto r = std::from_chars(s.data() + start, s.data() + i, n);
  if (r.ec != std::errc()) return std::nullopt;
  return n;
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  return b != 0 && a > limit / b;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
  struct Unit {
    std::string_view name;
    std::uint64_t ms;
  };
  // "ms" before "m" so that the longest unit wins.
  static constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  if (text.empty()) return std::nullopt;
  std::uint64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    auto n = read_digits(text, i);
    if (!n) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && !is_digit(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (iequals(unit, u.name)) found = &u;
    }
    if (!found) return std::nullopt;
    if (mul_overflows(*n, found->ms, kMax)) return std::nullopt;
    std::uint64_t part = *n * found->ms;
    if (part > kMax - total) return std::nullopt;
    total += part;
  }
  return Duration(static_cast<Duration::rep>(total));
}

std::optional<ByteSize> parse_size(std::string_view text) {
  std::size_t i = 0;
  auto n = read_digits(text, i);
  if (!n) return std::nullopt;
  std::string_view unit = text.substr(i);
  std::uint64_t mult = 0;
  if (unit.empty() || iequals(unit, "b")) {
    mult = 1;
  } else if (iequals(unit, "kb")) {
    mult = 1ull << 10;
  } else if (iequals(unit, "mb")) {
    mult = 1ull << 20;
  } else if (iequals(unit, "gb")) {
    mult = 1ull << 30;
  } else if (iequals(unit, "tb")) {
    mult = 1ull << 40;
  } else {
    return std::nullopt;
  }
  if (mul_overflows(*n, mult, std::numeric_limits<std::uint64_t>::max())) return std::nullopt;
  return ByteSize{*n * mult};
}

std::optional<double> parse_percent(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  std::string_view num = text.substr(0, text.size() - 1);
  // from_chars would also take "inf", "nan" and exponents; a percent is
  // plain digits with an optional fraction.
  std::size_t dots = 0;
  for (char c : num) {
    if (c == '.') {
      ++dots;
    } else if (!is_digit(c)) {
      return std::nullopt;
    }
  }
  if (dots > 1 || num.front() == '.' || num.back() == '.') return std::nullopt;
  double d = 0;
  auto r = std::from_chars(num.data(), num.data() + num.size(), d);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return std::nullopt;
  return d / 100.0;
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  struct Unit {
    const char* name;
    std::int64_t ms;
  };
  static constexpr Unit kUnits[] = {
      {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(ByteSize s) {
  struct Unit {
    const char* name;
    std::uint64_t bytes;
  };
  static constexpr Unit kUnits[] = {
      {"TB", 1ull << 40}, {"GB", 1ull << 30}, {"MB", 1ull << 20}, {"KB", 1ull << 10}};
  if (s.bytes == 0) return "0B";
  for (const Unit& u : kUnits) {
    if (s.bytes % u.bytes == 0) return std::to_string(s.bytes / u.bytes) + u.name;
  }
  return std::to_string(s.bytes) + "B";
}

}  // namespace roadmq::config
