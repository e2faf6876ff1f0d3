// Typed units written the way EMQX writes them:
//   durations  500ms  30s  5m  2h  1d  (and sums such as 1h30m)
//   sizes      512  64KB  1MB  2GB  1TB (multiples of 1024; case-insensitive)
//   percents   80%  12.5%
// Pure functions; no allocation except in format_*().
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace roadmq::config {

using Duration = std::chrono::milliseconds;

struct ByteSize {
  std::uint64_t bytes = 0;
  friend constexpr bool operator==(ByteSize, ByteSize) = default;
  friend constexpr auto operator<=>(ByteSize, ByteSize) = default;
};

inline constexpr ByteSize kilobytes(std::uint64_t n) { return ByteSize{n * 1024}; }
inline constexpr ByteSize megabytes(std::uint64_t n) { return ByteSize{n * 1024 * 1024}; }

// "1h30m" -> 5'400'000 ms. Every part needs a unit (ms, s, m, h, d); a bare
// number is not a duration here because what it means depends on the key.
// nullopt if malformed or beyond the range of Duration.
std::optional<Duration> parse_duration(std::string_view text);

// "64KB" -> 65536. A bare number counts bytes. Units: B, KB, MB, GB, TB.
std::optional<ByteSize> parse_size(std::string_view text);

// "80%" -> 0.8. The number may have a fraction; the '%' is required.
std::optional<double> parse_percent(std::string_view text);

// Shortest exact spelling: 7'200'000 ms -> "2h", 90'000 -> "90s", 1500 -> "1500ms".
std::string format_duration(Duration d);
// Largest exact unit: 1'048'576 -> "1MB", 1000 -> "1000B".
std::string format_size(ByteSize s);

}  // namespace roadmq::config
