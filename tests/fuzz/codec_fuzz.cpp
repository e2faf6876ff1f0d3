// Codec fuzz target. The first byte picks the protocol version and a chunk
// size; the rest is fed to a StreamDecoder in chunks, as reads would arrive,
// every other read through a shared ReadScratch as the broker's channels do.
// A read takes no more than the space prepare() offers, like recv() would.
// Oracle: every packet the decoder accepts must encode and decode back to an
// equal packet, and a stream error must name a known reason code.
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <span>

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"

namespace mq = roadmq::mqtt;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "codec_fuzz oracle: %s\n", what);
  __builtin_trap();
}

void check_roundtrip(const mq::Packet& packet, mq::ProtocolVersion version) {
  mq::ByteBuffer bytes;
  const auto written = mq::encode(packet, version, bytes);
  if (written == 0) return;  // AUTH has no 3.x encoding
  if (written != mq::encoded_size(packet, version)) fail("encoded_size disagrees with encode");
  const auto frame = mq::parse_frame(bytes, mq::kMaxPacketSize, version);
  if (frame.status != mq::FrameStatus::complete) fail("re-encoded frame incomplete");
  auto again = mq::decode_packet(frame.frame, version);
  if (!again) fail("re-encoded packet rejected");
  if (!(*again == packet)) fail("round trip changed the packet");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr mq::ProtocolVersion kVersions[] = {
      mq::ProtocolVersion::v3_1, mq::ProtocolVersion::v3_1_1, mq::ProtocolVersion::v5};
  const auto version = kVersions[(data[0] & 0x03) % 3];
  const std::size_t chunk = 1 + (data[0] >> 2) * 7;  // 1..442 bytes per "read"
  const std::uint32_t max_size = (data[0] & 0x80) ? 512 : mq::kMaxPacketSize;

  static mq::ReadScratch scratch(4096);
  mq::StreamDecoder decoder(max_size, version, 64);
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  mq::Packet packet;
  bool via_scratch = false;
  while (!rest.empty()) {
    via_scratch = !via_scratch;
    const auto want = std::min(chunk, rest.size());
    auto buf = via_scratch ? decoder.prepare(want, scratch) : decoder.prepare(want);
    // Near the growth limit the decoder offers less than asked, never nothing:
    // whatever it holds after draining is an unfinished frame below the limit.
    if (buf.empty()) fail("prepare offered no room");
    const auto n = std::min(want, buf.size());
    std::copy_n(rest.begin(), n, buf.begin());
    decoder.commit(n);
    rest = rest.subspan(n);
    for (;;) {
      const auto status = decoder.next(packet);
      if (status == mq::StreamDecoder::Status::packet) {
        check_roundtrip(packet, std::holds_alternative<mq::Connect>(packet)
                                    ? std::get<mq::Connect>(packet).version
                                    : decoder.version());
        continue;
      }
      if (status == mq::StreamDecoder::Status::error) {
        if (!mq::is_known(static_cast<std::uint8_t>(decoder.error().reason))) fail("unknown reason");
        if (decoder.error().rule.empty()) fail("error without a rule");
        decoder.release_scratch();
        return 0;
      }
      break;
    }
    decoder.release_scratch();
    if (scratch.in_use()) fail("scratch still held after release");
    decoder.shrink_if_idle();
  }
  return 0;
}
