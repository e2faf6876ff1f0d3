// Minimal structured-enough logging to stderr (journald captures it under
// systemd). Rate-limited variants for anything a remote peer can trigger, so
// a flood of bad input cannot flood the log.
//
// Thread safety: any thread; one write(2) per line, so lines never interleave.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>

namespace roadmq::log {

enum class Level : int { debug = 0, info = 1, warning = 2, error = 3 };

void set_level(Level level) noexcept;
bool enabled(Level level) noexcept;
void write(Level level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// Allows `burst` lines per second per call site; counts what it suppresses
// and reports the count with the next line it lets through.
class RateLimit {
 public:
  explicit constexpr RateLimit(std::uint32_t burst = 10) noexcept : burst_(burst) {}
  // True when this line may be written; `suppressed` gets the lines dropped since.
  bool allow(std::uint64_t& suppressed) noexcept;

 private:
  std::uint32_t burst_;
  std::atomic<std::uint64_t> window_{0};
  std::atomic<std::uint32_t> used_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace roadmq::log

#define ROADMQ_LOG(level, ...)                                                        \
  do {                                                                                \
    if (::roadmq::log::enabled(level)) ::roadmq::log::write(level, __VA_ARGS__);      \
  } while (0)
#define ROADMQ_DEBUG(...) ROADMQ_LOG(::roadmq::log::Level::debug, __VA_ARGS__)
#define ROADMQ_INFO(...) ROADMQ_LOG(::roadmq::log::Level::info, __VA_ARGS__)
#define ROADMQ_WARN(...) ROADMQ_LOG(::roadmq::log::Level::warning, __VA_ARGS__)
#define ROADMQ_ERROR(...) ROADMQ_LOG(::roadmq::log::Level::error, __VA_ARGS__)

// At most a burst of lines per second from this call site.
#define ROADMQ_LOG_RATELIMITED(level, fmt, ...)                                              \
  do {                                                                                       \
    if (::roadmq::log::enabled(level)) {                                                     \
      static ::roadmq::log::RateLimit roadmq_rl_;                                            \
      std::uint64_t roadmq_dropped_ = 0;                                                     \
      if (roadmq_rl_.allow(roadmq_dropped_)) {                                               \
        if (roadmq_dropped_)                                                                 \
          ::roadmq::log::write(level, fmt " (%llu similar lines suppressed)", __VA_ARGS__,   \
                               static_cast<unsigned long long>(roadmq_dropped_));            \
        else                                                                                 \
          ::roadmq::log::write(level, fmt, __VA_ARGS__);                                     \
      }                                                                                      \
    }                                                                                        \
  } while (0)
