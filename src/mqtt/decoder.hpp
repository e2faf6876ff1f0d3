// Sans-I/O MQTT decoding: bytes in, packets or a reason code out.
//
// Two layers:
//  * parse_frame(): reads the fixed header of whatever bytes are buffered and
//    says whether a whole packet is there. The maximum packet size is checked
//    from the fixed header, before the body is buffered, so an oversized
//    packet costs nothing but its first five bytes.
//  * decode_packet(): decodes one complete frame's body under a protocol
//    version, enforcing every malformed-packet and protocol-error rule that
//    can be checked from the packet alone.
// StreamDecoder combines them over a growable buffer that the I/O layer reads
// into directly (prepare/commit, like an Asio dynamic buffer). It can borrow a
// ReadScratch that the connections of one thread share: a read then lands in
// the big shared buffer, and only the bytes of an unfinished frame are kept
// in the connection's own buffer.
//
// Thread safety: StreamDecoder is owned by one connection on one shard; a
// ReadScratch by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/expected.hpp"
#include "mqtt/error.hpp"
#include "mqtt/packet.hpp"

namespace roadmq::mqtt {

struct FixedHeader {
  PacketType type = PacketType::connect;
  std::uint8_t flags = 0;              // low nibble of byte 1
  std::uint32_t remaining_length = 0;  // body size
  std::uint8_t header_size = 0;        // 2..5 bytes
  std::uint32_t packet_size() const noexcept { return header_size + remaining_length; }
};

struct Frame {
  FixedHeader header;
  std::span<const std::uint8_t> body;  // exactly remaining_length bytes
};

enum class FrameStatus { complete, need_more, error };

struct FrameResult {
  FrameStatus status = FrameStatus::need_more;
  Frame frame;                 // valid when complete
  std::size_t needed = 0;      // need_more: total bytes the frame needs, once the header is known (0 if not yet)
  CodecError error;            // valid when error
};

// `max_packet_size` counts the whole packet, fixed header included
// [MQTT-3.1.2.25]. A packet type of 0, or 15 before 5.0, is Malformed.
// Flag checks that depend only on the type ([MQTT-2.2.2-1/2], QoS 3, DUP on QoS 0)
// are made here too.
FrameResult parse_frame(std::span<const std::uint8_t> bytes, std::uint32_t max_packet_size,
                        ProtocolVersion version) noexcept;

// Decodes a CONNECT frame regardless of the version in force (the version is
// learnt from CONNECT itself); any other frame under `version`.
Expected<Packet, CodecError> decode_packet(const Frame& frame, ProtocolVersion version);
// The same into `out`, reusing it when it already holds a PUBLISH (a stream
// decoder's packet between two frames). On error `out` holds an unspecified
// packet.
std::optional<CodecError> decode_packet_into(const Frame& frame, ProtocolVersion version, Packet& out);

// The remaining-length / property-length encoding [MQTT-1.5.5].
struct VarInt {
  std::uint32_t value = 0;
  std::uint8_t size = 0;  // bytes consumed
};
enum class VarIntStatus { ok, need_more, malformed };
VarIntStatus read_varint(std::span<const std::uint8_t> bytes, VarInt& out) noexcept;

// One big input buffer for the connections of one thread. Idle connections
// then hold no input buffer at all, and a busy one reads many packets per
// system call. One decoder has it at a time, from commit() until
// release_scratch(); a decoder offered it while another holds it reads into
// its own buffer instead.
class ReadScratch {
 public:
  explicit ReadScratch(std::size_t size) : bytes_(size) {}
  std::size_t size() const noexcept { return bytes_.size(); }
  bool in_use() const noexcept { return in_use_; }

 private:
  friend class StreamDecoder;
  std::vector<std::uint8_t> bytes_;
  bool in_use_ = false;
};

class StreamDecoder {
 public:
  enum class Status { packet, need_more, error };

  explicit StreamDecoder(std::uint32_t max_packet_size = kMaxPacketSize,
                         ProtocolVersion version = ProtocolVersion::v5,
                         std::size_t initial_capacity = 256);
  ~StreamDecoder();
  StreamDecoder(const StreamDecoder&) = delete;
  StreamDecoder& operator=(const StreamDecoder&) = delete;

  // Set once CONNECT has been decoded (or by a client when it connects).
  void set_version(ProtocolVersion v) noexcept { version_ = v; }
  ProtocolVersion version() const noexcept { return version_; }
  void set_max_packet_size(std::uint32_t n) noexcept { max_packet_size_ = n; }

  // Writable space at the end of the buffer: `min_size` bytes, or fewer once
  // growth reaches max(initial_capacity, max_packet_size + 5) bytes in all.
  // The caller writes at most the span's size. A caller that drains next()
  // until need_more holds less than a whole frame, so the span is never
  // empty; once a frame's header is buffered, it covers the whole frame.
  std::span<std::uint8_t> prepare(std::size_t min_size);
  // The same, but offers `scratch` when it is free and what is buffered is
  // small: the buffered bytes are copied to its front and the space after
  // them is returned. The decoder holds the scratch from commit() on.
  std::span<std::uint8_t> prepare(std::size_t min_size, ReadScratch& scratch);
  void commit(std::size_t n) noexcept;
  // Gives the scratch back, keeping the bytes of an unfinished frame in the
  // decoder's own buffer. Call once next() has returned need_more or error,
  // and before the decoder can move to another thread.
  void release_scratch();
  // Copying convenience for tests and tools.
  void feed(std::span<const std::uint8_t> bytes);

  // Decodes the next buffered packet into `out`. After `error`, the stream is
  // unusable and error() tells why; the connection must be closed.
  Status next(Packet& out);
  const CodecError& error() const noexcept { return error_; }

  std::size_t buffered() const noexcept { return end_ - begin_; }
  // The decoder's own buffer (a borrowed scratch is not counted).
  std::size_t capacity() const noexcept { return buf_.size(); }
  bool holds_scratch() const noexcept { return scratch_ != nullptr; }
  // Releases a large buffer once it is empty, so an idle connection holds
  // only `initial_capacity` bytes.
  void shrink_if_idle() noexcept;

 private:
  std::size_t growth_limit() const noexcept;
  std::span<std::uint8_t> make_room(std::size_t min_size, std::size_t limit);
  // What begin_/end_ index: the borrowed scratch, or the own buffer.
  std::span<std::uint8_t> storage() noexcept {
    return scratch_ != nullptr ? std::span<std::uint8_t>(scratch_->bytes_) : std::span<std::uint8_t>(buf_);
  }

  // Offsets and sizes are 32-bit: a buffer never outgrows max_packet_size
  // + 5 (MQTT caps packets at 256 MB), and a scratch is far smaller. One
  // decoder per connection, so bytes here count a million times.
  std::vector<std::uint8_t> buf_;
  ReadScratch* scratch_ = nullptr;   // held from commit() to release_scratch()
  ReadScratch* offered_ = nullptr;   // returned by the last prepare()
  std::uint32_t begin_ = 0;
  std::uint32_t end_ = 0;
  std::uint32_t initial_capacity_;
  std::uint32_t max_packet_size_;
  CodecError error_;
  ProtocolVersion version_;
  bool failed_ = false;
};

}  // namespace roadmq::mqtt
