#include "base/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace roadmq::base {

void name_this_thread(std::string_view name) noexcept {
  std::array<char, 16> buf{};
  const auto n = std::min(name.size(), buf.size() - 1);
  std::memcpy(buf.data(), name.data(), n);
  // Best effort: a thread without a name works the same.
  (void)pthread_setname_np(pthread_self(), buf.data());
}

}  // namespace roadmq::base
