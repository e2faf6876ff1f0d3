#include "base/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace roadmq::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::warning)};

const char* name(Level l) noexcept {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "?";
}

}  // namespace

void set_level(Level level) noexcept { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) noexcept {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, const char* fmt, ...) noexcept {
  char line[1024];
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  int n = static_cast<int>(std::strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm));
  n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), ".%03dZ [%s] ",
                     static_cast<int>(ms % 1000), name(level));
  va_list args;
  va_start(args, fmt);
  const int body = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, args);
  va_end(args);
  std::size_t len = static_cast<std::size_t>(n) + (body > 0 ? static_cast<std::size_t>(body) : 0);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line, len);
  (void)ignored;  // nowhere to report a failed log write
}

bool RateLimit::allow(std::uint64_t& suppressed) noexcept {
  const auto second = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  if (window_.exchange(second, std::memory_order_relaxed) != second) used_.store(0, std::memory_order_relaxed);
  if (used_.fetch_add(1, std::memory_order_relaxed) < burst_) {
    suppressed = dropped_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace roadmq::log
