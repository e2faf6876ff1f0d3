// StreamDecoder: the connection-side buffer between reads and decoded
// packets (prepare/commit, draining with next()), and its borrowing of a
// thread's ReadScratch. Framing and decoding themselves are decoder.cpp's.
#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "base/assert.hpp"
#include "mqtt/decoder.hpp"

namespace roadmq::mqtt {

StreamDecoder::StreamDecoder(std::uint32_t max_packet_size, ProtocolVersion version,
                             std::size_t initial_capacity)
    : buf_(initial_capacity),
      initial_capacity_(static_cast<std::uint32_t>(initial_capacity)),
      max_packet_size_(max_packet_size),
      version_(version) {}

std::size_t StreamDecoder::growth_limit() const noexcept {
  // No frame we accept is larger than max_packet_size_; the slack covers a
  // fixed header read ahead of the check that refuses it.
  return std::max(std::size_t{initial_capacity_}, std::size_t{max_packet_size_} + 5);
}

std::span<std::uint8_t> StreamDecoder::make_room(std::size_t min_size, std::size_t limit) {
  ROADMQ_ASSERT(scratch_ == nullptr);
  const std::size_t held = buffered();
  std::size_t want = held + min_size;
  // Once the header of the frame being assembled is in, grow towards what it
  // needs, doubling as its bytes arrive: a large PUBLISH is read with few
  // reallocations, while a header that only claims a large body (and never
  // sends it) costs at most kEagerGrowth, not max_packet_size.
  constexpr std::size_t kEagerGrowth = 64 * 1024;
  const FrameResult pending = parse_frame(std::span<const std::uint8_t>(buf_).subspan(begin_, held),
                                          max_packet_size_, version_);
  if (pending.status == FrameStatus::need_more)
    want = std::max(want, std::min(pending.needed, std::max(2 * held, kEagerGrowth)));
  want = std::max(std::min(want, limit), held);

  if (held == 0) begin_ = end_ = 0;
  if (buf_.size() - end_ < want - held) {
    if (buf_.size() >= want) {
      std::memmove(buf_.data(), buf_.data() + begin_, held);
    } else {
      std::vector<std::uint8_t> bigger(std::max(want, std::size_t{initial_capacity_}));
      std::copy(buf_.begin() + static_cast<std::ptrdiff_t>(begin_),
                buf_.begin() + static_cast<std::ptrdiff_t>(end_), bigger.begin());
      buf_.swap(bigger);
    }
    begin_ = 0;
    end_ = static_cast<std::uint32_t>(held);
  }
  return std::span<std::uint8_t>(buf_).subspan(end_);
}

StreamDecoder::~StreamDecoder() {
  if (scratch_ != nullptr) scratch_->in_use_ = false;
}

std::span<std::uint8_t> StreamDecoder::prepare(std::size_t min_size) {
  release_scratch();
  return make_room(min_size, growth_limit());
}

std::span<std::uint8_t> StreamDecoder::prepare(std::size_t min_size, ReadScratch& scratch) {
  release_scratch();
  const std::size_t held = buffered();
  // A frame bigger than a quarter of the scratch goes on growing in the own
  // buffer rather than being copied to the scratch and back on every read.
  if (scratch.in_use_ || held > scratch.size() / 4 || scratch.size() - held < min_size)
    return make_room(min_size, growth_limit());
  std::copy_n(buf_.data() + begin_, held, scratch.bytes_.data());
  offered_ = &scratch;
  return std::span<std::uint8_t>(scratch.bytes_).subspan(held);
}

void StreamDecoder::commit(std::size_t n) noexcept {
  if (offered_ != nullptr) {
    // The read landed in the scratch, after a copy of what was buffered.
    scratch_ = std::exchange(offered_, nullptr);
    scratch_->in_use_ = true;
    end_ = static_cast<std::uint32_t>(buffered());
    begin_ = 0;
  }
  const std::size_t room = storage().size() - end_;
  ROADMQ_ASSERT(n <= room);
  end_ += static_cast<std::uint32_t>(std::min(n, room));
}

void StreamDecoder::release_scratch() {
  offered_ = nullptr;
  if (scratch_ == nullptr) return;
  ReadScratch* scratch = std::exchange(scratch_, nullptr);
  scratch->in_use_ = false;
  const std::size_t held = end_ - begin_;
  if (held > buf_.size()) std::vector<std::uint8_t>(std::max(held, std::size_t{initial_capacity_})).swap(buf_);
  std::copy_n(scratch->bytes_.data() + begin_, held, buf_.data());
  begin_ = 0;
  end_ = static_cast<std::uint32_t>(held);
}

void StreamDecoder::feed(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  release_scratch();
  // A test may hand over many frames at once without draining in between,
  // so feed() is not held to the per-frame growth limit.
  const auto room = make_room(bytes.size(), std::numeric_limits<std::size_t>::max());
  std::copy(bytes.begin(), bytes.end(), room.begin());
  commit(bytes.size());
}

StreamDecoder::Status StreamDecoder::next(Packet& out) {
  if (failed_) return Status::error;
  const FrameResult fr =
      parse_frame(std::span<const std::uint8_t>(storage()).subspan(begin_, buffered()),
                  max_packet_size_, version_);
  switch (fr.status) {
    case FrameStatus::need_more:
      if (begin_ == end_) begin_ = end_ = 0;
      return Status::need_more;
    case FrameStatus::error:
      failed_ = true;
      error_ = fr.error;
      return Status::error;
    case FrameStatus::complete:
      break;
  }
  if (auto err = decode_packet_into(fr.frame, version_, out)) {
    failed_ = true;
    error_ = *err;
    return Status::error;
  }
  begin_ += fr.frame.header.packet_size();
  if (begin_ == end_) begin_ = end_ = 0;
  // A broker learns the version from CONNECT; every later frame follows it.
  if (const auto* connect = std::get_if<Connect>(&out)) version_ = connect->version;
  return Status::packet;
}

void StreamDecoder::shrink_if_idle() noexcept {
  if (scratch_ != nullptr || buffered() != 0 || buf_.size() <= initial_capacity_) return;
  begin_ = end_ = 0;
  // resize() down never allocates; shrink_to_fit() swallows a failed
  // allocation, so this stays noexcept.
  buf_.resize(initial_capacity_);
  buf_.shrink_to_fit();
}

}  // namespace roadmq::mqtt
