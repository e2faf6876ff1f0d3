// OutputBuffer: the bytes a connection has yet to write, as one logical
// stream. Small pieces are copied into a contiguous vector (one iovec, one
// memcpy each); large shared blocks - a fanned-out PUBLISH payload - can be
// referenced instead of copied, keeping the block alive through a shared
// owner until written. The writer gathers the stream into iovecs for one
// writev and consumes what the kernel took.
//
//   logical stream:  bytes_[head..at0) seg0 bytes_[at0..at1) seg1 ... bytes_[..end)
//
// Encoders may append straight into bytes() (e.g. mqtt::encode(p, v,
// out.bytes())): appending never disturbs the segments' positions.
//
// Thread safety: owned by one connection on one shard. A shared block must be
// immutable while referenced (it may be read by several shards' writers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace roadmq::net {

class OutputSpares;

class OutputBuffer {
 public:
  // Blocks shorter than this are copied by append_shared(): an extra iovec
  // costs more than copying a few hundred bytes.
  static constexpr std::size_t kShareThreshold = 1024;

  OutputBuffer() noexcept = default;
  OutputBuffer(OutputBuffer&&) noexcept = default;
  OutputBuffer& operator=(OutputBuffer&&) noexcept = default;
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  // Append-only access for encoders. Never erase or modify bytes already
  // there: some may be written, or precede a shared segment.
  std::vector<std::uint8_t>& bytes() noexcept { return bytes_; }

  void append(std::span<const std::uint8_t> data) { bytes_.insert(bytes_.end(), data.begin(), data.end()); }
  void append(std::string_view data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
  }
  void push_back(std::uint8_t b) { bytes_.push_back(b); }

  // Queues `data`, which `owner` keeps alive (use shared_ptr's aliasing
  // constructor to point into any shared object). Copied when small.
  void append_shared(std::shared_ptr<const void> owner, std::span<const std::uint8_t> data);

  // Unwritten bytes.
  std::size_t size() const noexcept {
    return bytes_.size() - head_ + (shared_ ? shared_->pending : 0);
  }
  bool empty() const noexcept { return size() == 0; }
  // Heap bytes held (storage capacities), for idle-memory accounting.
  std::size_t capacity_bytes() const noexcept;

  // Writer side: fills `out` with up to out.size() slices from the start of
  // the unwritten stream; returns how many were filled.
  std::size_t gather(std::span<std::span<const std::uint8_t>> out) const noexcept;
  // Drops the first `n` unwritten bytes (n <= size()).
  void consume(std::size_t n) noexcept;

  void clear() noexcept;
  // When empty, frees storage above `keep_bytes` so an idle connection does
  // not keep the buffer of its last burst.
  void trim(std::size_t keep_bytes) noexcept;
  // As trim(), but storage above `keep_bytes` goes to `spares` for another
  // connection's next burst (which frees it when it has no room).
  void trim(std::size_t keep_bytes, OutputSpares& spares) noexcept;

 private:
  struct Segment {
    std::size_t at;  // sits before bytes_[at]
    std::shared_ptr<const void> owner;
    const std::uint8_t* data;
    std::size_t size;
  };
  // Shared blocks are the exception (large fan-out payloads), so their
  // bookkeeping lives behind a pointer: 8 bytes per idle connection, not 40.
  struct Shared {
    std::vector<Segment> segments;
    std::size_t seg = 0;      // segments before this are written
    std::size_t seg_off = 0;  // bytes of segments[seg] written
    std::size_t pending = 0;  // unwritten segment bytes
  };

  void compact() noexcept;

  std::vector<std::uint8_t> bytes_;
  std::size_t head_ = 0;  // bytes_ before this are written
  std::unique_ptr<Shared> shared_;
};

}  // namespace roadmq::net
