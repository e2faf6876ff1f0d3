#include "net/output_spares.hpp"

#include <utility>

#include "base/assert.hpp"

namespace roadmq::net {

void OutputSpares::give(std::vector<std::uint8_t>& storage) noexcept {
  storage.clear();
  const std::size_t capacity = storage.capacity();
  if (capacity == 0) return;
  if (count_ == kMaxSpares || capacity > kMaxSpareBytes) {
    std::vector<std::uint8_t>().swap(storage);
    return;
  }
  // Last in, first out: the most recently used buffer is the one most likely
  // still in the CPU's cache.
  spares_[count_++] = std::exchange(storage, {});
  counters_.output_spare_bytes.add(capacity);
}

bool OutputSpares::lend(std::vector<std::uint8_t>& storage) noexcept {
  ROADMQ_ASSERT(storage.empty());
  if (count_ == 0) return false;
  std::vector<std::uint8_t>& spare = spares_[--count_];
  counters_.output_spare_bytes.sub(spare.capacity());
  counters_.output_spares_lent.add();
  // A buffer with capacity of its own is swapped, not dropped: the spare
  // slot takes it and frees it below.
  storage.swap(spare);
  std::vector<std::uint8_t>().swap(spare);
  return true;
}

}  // namespace roadmq::net
