// StreamDecoder: the connection-side loop. Bytes arrive in arbitrary pieces
// (one at a time, many frames at once, frames split across reads); the
// decoder must hand out exactly the packets that were sent, refuse an
// oversized packet from its header alone, follow the version CONNECT
// announces, keep its buffer no larger than the frame in hand, and stay
// failed once it has failed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "mqtt/decoder.hpp"

namespace roadmq::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::string_literals;

constexpr auto v31 = ProtocolVersion::v3_1;
constexpr auto v311 = ProtocolVersion::v3_1_1;
constexpr auto v5 = ProtocolVersion::v5;

Bytes varint(std::size_t v) {
  Bytes out;
  do {
    auto b = static_cast<std::uint8_t>(v % 128);
    v /= 128;
    if (v != 0) b |= 0x80;
    out.push_back(b);
  } while (v != 0);
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes pkt(std::uint8_t first, const Bytes& body) {
  return cat({{first}, varint(body.size()), body});
}

const Bytes kConnect311 = {0x10, 0x0F, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04,
                           0x02, 0x00, 0x3C, 0x00, 0x03, 'a', 'b', 'c'};
const Bytes kConnect31 = {0x10, 0x10, 0x00, 0x06, 'M',  'Q',  'I',  's', 'd',
                          'p',  0x03, 0x02, 0x00, 0x0A, 0x00, 0x02, 'i', 'd'};
const Bytes kConnect5 = {0x10, 0x10, 0x00, 0x04, 'M',  'Q',  'T', 'T', 0x05,
                         0x02, 0x00, 0x3C, 0x00, 0x00, 0x03, 'a', 'b', 'c'};
// PUBLISH QoS 0 to "t" whose last body byte is 0x00: payload "\0" under
// 3.1.1, an empty Property Length and no payload under 5.0.
const Bytes kAmbiguousPublish = {0x30, 0x04, 0x00, 0x01, 't', 0x00};
const Bytes kPingreq = {0xC0, 0x00};
const Bytes kPuback1 = {0x40, 0x02, 0x00, 0x01};
const Bytes kAuth = {0xF0, 0x00};

// PUBLISH QoS 1 under 3.1.1 with packet id `id` and a payload of `size` bytes.
Bytes publish311(std::uint16_t id, std::size_t size) {
  Bytes body = {
      0x00, 0x03, 'a', '/', 'b', static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
  for (std::size_t i = 0; i < size; ++i) body.push_back(static_cast<std::uint8_t>(i * 7));
  return pkt(0x32, body);
}

// Drains every complete packet; fails the test on an error.
std::vector<Packet> drain(StreamDecoder& d) {
  std::vector<Packet> out;
  Packet p;
  StreamDecoder::Status st;
  while ((st = d.next(p)) == StreamDecoder::Status::packet) out.push_back(p);
  EXPECT_EQ(st, StreamDecoder::Status::need_more) << d.error().rule;
  return out;
}

// Writes `bytes` the way an I/O loop would: prepare, copy at most `chunk`
// bytes, commit, drain.
std::vector<Packet> pump(StreamDecoder& d, const Bytes& bytes, std::size_t chunk) {
  std::vector<Packet> out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const auto room = d.prepare(chunk);
    EXPECT_GE(room.size(), 1u);
    const std::size_t n = std::min({room.size(), chunk, bytes.size() - pos});
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(pos), n, room.begin());
    d.commit(n);
    pos += n;
    for (auto& p : drain(d)) out.push_back(std::move(p));
  }
  return out;
}

// The packet a frame decodes to on its own.
Packet decode_one(const Bytes& frame, ProtocolVersion v) {
  const FrameResult fr = parse_frame(frame, kMaxPacketSize, v);
  EXPECT_EQ(fr.status, FrameStatus::complete);
  auto decoded = decode_packet(fr.frame, v);
  EXPECT_TRUE(decoded.has_value());
  return decoded ? *decoded : Packet{};
}

TEST(StreamDecoder, EmptyNeedsMore) {
  StreamDecoder d;
  Packet p;
  EXPECT_EQ(d.next(p), StreamDecoder::Status::need_more);
  EXPECT_EQ(d.buffered(), 0u);
  d.feed({});
  EXPECT_EQ(d.next(p), StreamDecoder::Status::need_more);
}

TEST(StreamDecoder, ByteByByte) {
  const Bytes sub = pkt(0x82, {0x00, 0x02, 0x00, 0x01, '#', 0x01});
  const Bytes stream = cat({kConnect311, publish311(1, 5), sub, kPingreq, {0xE0, 0x00}});
  StreamDecoder d;  // 5.0 until CONNECT says otherwise
  std::vector<Packet> got;
  for (const std::uint8_t b : stream) {
    const auto room = d.prepare(1);
    ASSERT_GE(room.size(), 1u);
    room[0] = b;
    d.commit(1);
    for (auto& p : drain(d)) got.push_back(std::move(p));
  }
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(std::get<Connect>(got[0]).client_id, "abc");
  const auto& pub = std::get<Publish>(got[1]);
  EXPECT_EQ(pub.packet_id, PacketId{1});
  EXPECT_EQ(pub.payload, "\x00\x07\x0E\x15\x1C"s);
  EXPECT_EQ(std::get<Subscribe>(got[2]).subscriptions.at(0).filter, "#");
  EXPECT_TRUE(std::holds_alternative<Pingreq>(got[3]));
  EXPECT_TRUE(std::holds_alternative<Disconnect>(got[4]));
  EXPECT_EQ(d.version(), v311);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(StreamDecoder, APublishDecodedIntoTheLastOneKeepsNothingOfIt) {
  // next() decodes a PUBLISH into the packet it is handed when that already
  // holds one (a connection reuses its packet): fields the new frame does
  // not carry must come out at their defaults, not as the last frame's.
  const Bytes first = pkt(0x3B, cat({{0x00, 0x03, 'a', '/', 'b', 0x00, 0x09},
                                     {0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'},  // User Property
                                     {'o', 'l', 'd'}}));  // QoS 1, DUP, RETAIN
  const Bytes second = pkt(0x30, {0x00, 0x01, 'c', 0x00, 'n'});  // QoS 0, no properties
  StreamDecoder d(kMaxPacketSize, v5);
  d.feed(cat({first, second}));
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  const auto& a = std::get<Publish>(p);
  EXPECT_EQ(a.packet_id, PacketId{9});
  EXPECT_TRUE(a.dup && a.retain);
  EXPECT_EQ(a.properties.size(), 1u);
  EXPECT_EQ(a.payload, "old");
  Publish moved = std::move(std::get<Publish>(p));  // as the broker does
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  const auto& b = std::get<Publish>(p);
  EXPECT_EQ(b, (Publish{"c", "n", QoS::at_most_once, false, false, PacketId{}, {}}));
  EXPECT_EQ(moved.topic, "a/b");
  // After another packet type, a PUBLISH is decoded as usual.
  d.feed(cat({kPingreq, second}));
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  EXPECT_TRUE(std::holds_alternative<Pingreq>(p));
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  EXPECT_EQ(std::get<Publish>(p).topic, "c");
}

TEST(StreamDecoder, ManyFramesInOneFeed) {
  Bytes stream;
  for (std::uint16_t id = 1; id <= 100; ++id) {
    const Bytes f = publish311(id, id % 13);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  StreamDecoder d(kMaxPacketSize, v311);
  d.feed(stream);
  const auto got = drain(d);
  ASSERT_EQ(got.size(), 100u);
  for (std::uint16_t id = 1; id <= 100; ++id) {
    const auto& p = std::get<Publish>(got[id - 1]);
    EXPECT_EQ(p.packet_id, PacketId{id});
    EXPECT_EQ(p.payload.size(), id % 13u);
  }
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(StreamDecoder, FrameSplitAcrossFeedsAtEveryPoint) {
  const Bytes a = publish311(7, 300);  // two-byte Remaining Length
  const Bytes stream = cat({a, kPuback1});
  const std::vector<Packet> expected = {decode_one(a, v311), decode_one(kPuback1, v311)};
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamDecoder d(kMaxPacketSize, v311, 64);
    d.feed(std::span(stream).first(cut));
    auto got = drain(d);
    d.feed(std::span(stream).subspan(cut));
    for (auto& p : drain(d)) got.push_back(std::move(p));
    EXPECT_EQ(got, expected) << "cut at " << cut;
  }
}

TEST(StreamDecoder, OversizedPacketRefusedBeforeItsBodyArrives) {
  StreamDecoder d(1024, v5, 64);
  Packet p;
  d.feed(Bytes{0x30});
  EXPECT_EQ(d.next(p), StreamDecoder::Status::need_more);
  d.feed(Bytes{0xD0});  // Remaining Length continues...
  EXPECT_EQ(d.next(p), StreamDecoder::Status::need_more);
  d.feed(Bytes{0x0F});  // ...2000: the header alone says 2003 > 1024
  ASSERT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error().reason, ReasonCode::packet_too_large);
  EXPECT_EQ(d.capacity(), 64u);  // nothing was allocated for the body
}

TEST(StreamDecoder, PacketOfExactlyTheMaximumSizeIsAccepted) {
  const Bytes f = publish311(1, 1000);
  StreamDecoder d(static_cast<std::uint32_t>(f.size()), v311);
  d.feed(f);
  EXPECT_EQ(drain(d).size(), 1u);
  StreamDecoder smaller(static_cast<std::uint32_t>(f.size() - 1), v311);
  smaller.feed(std::span(f).first(3));
  Packet p;
  ASSERT_EQ(smaller.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(smaller.error().reason, ReasonCode::packet_too_large);
}

TEST(StreamDecoder, SetMaxPacketSizeAppliesToLaterFrames) {
  StreamDecoder d(kMaxPacketSize, v311);
  d.feed(publish311(1, 100));
  EXPECT_EQ(drain(d).size(), 1u);
  d.set_max_packet_size(50);
  d.feed(publish311(2, 100));
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error().reason, ReasonCode::packet_too_large);
}

TEST(StreamDecoder, ConnectSwitchesTo311) {
  StreamDecoder d;  // default 5.0
  d.feed(cat({kConnect311, kAmbiguousPublish}));
  const auto got = drain(d);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(d.version(), v311);
  EXPECT_EQ(std::get<Publish>(got[1]).payload, "\0"s);
}

TEST(StreamDecoder, ConnectSwitchesTo5) {
  StreamDecoder d(kMaxPacketSize, v311);
  d.feed(cat({kConnect5, kAmbiguousPublish, kAuth}));
  const auto got = drain(d);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(d.version(), v5);
  EXPECT_EQ(std::get<Publish>(got[1]).payload, "");
  EXPECT_TRUE(std::holds_alternative<Auth>(got[2]));
}

TEST(StreamDecoder, ConnectSwitchesTo31) {
  StreamDecoder d;
  d.feed(kConnect31);
  ASSERT_EQ(drain(d).size(), 1u);
  EXPECT_EQ(d.version(), v31);
}

TEST(StreamDecoder, AuthIsRefusedOnceA311ConnectIsSeen) {
  StreamDecoder d;
  d.feed(cat({kConnect311, kAuth}));
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  ASSERT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error().reason, ReasonCode::malformed_packet);
}

TEST(StreamDecoder, GrowsWithTheFrameAndShrinksBackWhenIdle) {
  const Bytes big = publish311(3, 100'000);
  StreamDecoder d(1'000'000, v311, 64);
  EXPECT_EQ(d.capacity(), 64u);

  std::size_t pos = 0;
  Packet p;
  while (pos < big.size()) {
    const auto room = d.prepare(16);
    if (pos >= 5) {
      // The header is in: the buffer grows with the bytes that arrive (a
      // header alone buys at most 64 KiB) and never past the frame.
      EXPECT_LE(d.capacity(), std::max<std::size_t>(big.size(), 64 * 1024));
      EXPECT_LE(d.capacity(), std::max<std::size_t>(2 * pos + 16, 64 * 1024));
    }
    const std::size_t n = std::min<std::size_t>({room.size(), 4096, big.size() - pos});
    std::copy_n(big.begin() + static_cast<std::ptrdiff_t>(pos), n, room.begin());
    d.commit(n);
    pos += n;
    if (pos < big.size()) {
      ASSERT_EQ(d.next(p), StreamDecoder::Status::need_more);
      d.shrink_if_idle();  // not idle: a partial frame is held
      EXPECT_GE(d.capacity(), pos);
    }
  }
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  EXPECT_EQ(std::get<Publish>(p).payload.size(), 100'000u);
  EXPECT_EQ(d.capacity(), big.size());  // the last step grows to the frame exactly
  d.shrink_if_idle();
  EXPECT_EQ(d.capacity(), 64u);
  EXPECT_EQ(d.buffered(), 0u);

  // Still works afterwards.
  d.feed(kPuback1);
  EXPECT_EQ(drain(d).size(), 1u);
}

// A fixed header that claims a large body must not buy a large buffer
// before the body arrives: that would let idle connections pin memory.
TEST(StreamDecoder, AHeaderAloneBuysAtMost64KiB) {
  StreamDecoder d(10'000'000, v311, 64);
  const Bytes header = {0x30, 0xFF, 0xFF, 0xFF, 0x03};  // PUBLISH, ~8 MB body claimed
  d.feed(header);
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::need_more);
  (void)d.prepare(16);
  EXPECT_LE(d.capacity(), 64u * 1024);
}

TEST(StreamDecoder, PrepareNeverGrowsPastTheMaximumPacketSize) {
  StreamDecoder d(1000, v5, 256);
  const auto room = d.prepare(1 << 20);
  EXPECT_GE(room.size(), 1u);
  EXPECT_LE(d.capacity(), 1005u);
}

// A partial frame just below the limit: the caller asks for a full read,
// gets the room up to the limit, and must write no more than that.
TEST(StreamDecoder, NearTheLimitPrepareOffersLessThanAskedButNeverNothing) {
  StreamDecoder d(512, v311, 64);
  Bytes body = {0x00, 0x01, 'a'};
  body.resize(500, 0x5A);
  const Bytes frame = pkt(0x30, body);  // 503 bytes
  d.feed(std::span<const std::uint8_t>(frame).first(442));
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::need_more);
  const auto room = d.prepare(442);
  EXPECT_GE(room.size(), frame.size() - 442);
  EXPECT_LT(room.size(), 442u);
  EXPECT_LE(d.capacity(), 517u);
  std::copy(frame.begin() + 442, frame.end(), room.begin());
  d.commit(frame.size() - 442);
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  EXPECT_EQ(std::get<Publish>(p).payload.size(), 497u);
}

TEST(StreamDecoder, CompactsConsumedBytesInsteadOfGrowing) {
  Bytes stream;
  for (std::uint16_t id = 1; id <= 1000; ++id) {
    const Bytes f = publish311(id, 3);  // 12 bytes each
    stream.insert(stream.end(), f.begin(), f.end());
  }
  StreamDecoder d(kMaxPacketSize, v311, 64);
  const auto got = pump(d, stream, 25);  // reads straddle frame boundaries
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(std::get<Publish>(got[999]).packet_id, PacketId{1000});
  EXPECT_EQ(d.capacity(), 64u);
}

TEST(StreamDecoder, RandomReadSizesDeliverExactlyWhatWasSent) {
  std::mt19937 rng(12345);
  Bytes stream = kConnect5;
  std::vector<Packet> expected = {decode_one(kConnect5, v5)};
  for (int i = 0; i < 300; ++i) {
    const std::size_t size = std::uniform_int_distribution<std::size_t>(0, 5000)(rng);
    Bytes body = {0x00, 0x01, 'x', 0x01, static_cast<std::uint8_t>(i), 0x03, 0x23, 0x00};
    body.push_back(static_cast<std::uint8_t>(i % 250 + 1));  // Topic Alias
    body.resize(body.size() + size, static_cast<std::uint8_t>(i));
    const Bytes f = pkt(0x32, body);
    stream.insert(stream.end(), f.begin(), f.end());
    expected.push_back(decode_one(f, v5));
  }
  StreamDecoder d(8000, v311, 128);
  std::vector<Packet> got;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t want = std::uniform_int_distribution<std::size_t>(1, 9000)(rng);
    const auto room = d.prepare(want);
    ASSERT_GE(room.size(), 1u);
    ASSERT_LE(d.capacity(), 8005u);
    const std::size_t n = std::min({room.size(), want, stream.size() - pos});
    std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(pos), n, room.begin());
    d.commit(n);
    pos += n;
    for (auto& p : drain(d)) got.push_back(std::move(p));
    if (rng() % 4 == 0) d.shrink_if_idle();
  }
  EXPECT_EQ(got, expected);
}

// The I/O loop of a shard whose connections share one ReadScratch: read,
// drain, give the scratch back; random read sizes, two decoders taking turns.
TEST(StreamDecoder, SharedScratchDeliversExactlyWhatWasSent) {
  std::mt19937 rng(777);
  Bytes stream = kConnect311;
  std::vector<Packet> expected = {decode_one(kConnect311, v311)};
  for (int i = 0; i < 400; ++i) {
    const Bytes f = publish311(static_cast<std::uint16_t>(i + 1),
                               std::uniform_int_distribution<std::size_t>(0, 3000)(rng));
    stream.insert(stream.end(), f.begin(), f.end());
    expected.push_back(decode_one(f, v311));
  }
  ReadScratch scratch(4096);
  StreamDecoder a(kMaxPacketSize, v5, 0);
  StreamDecoder b(kMaxPacketSize, v5, 0);
  std::vector<Packet> got_a;
  std::vector<Packet> got_b;
  std::size_t pos_a = 0;
  std::size_t pos_b = 0;
  auto step = [&](StreamDecoder& d, std::size_t& pos, std::vector<Packet>& got) {
    const auto room = d.prepare(512, scratch);
    ASSERT_GE(room.size(), 1u);
    const std::size_t want = std::uniform_int_distribution<std::size_t>(1, 5000)(rng);
    const std::size_t n = std::min({room.size(), want, stream.size() - pos});
    std::copy_n(stream.begin() + static_cast<std::ptrdiff_t>(pos), n, room.begin());
    d.commit(n);
    pos += n;
    for (auto& p : drain(d)) got.push_back(std::move(p));
    d.release_scratch();
    EXPECT_FALSE(scratch.in_use());
    d.shrink_if_idle();
  };
  while (pos_a < stream.size() || pos_b < stream.size()) {
    if (pos_a < stream.size()) step(a, pos_a, got_a);
    if (pos_b < stream.size()) step(b, pos_b, got_b);
  }
  EXPECT_EQ(got_a, expected);
  EXPECT_EQ(got_b, expected);
  // Idle once drained: neither holds an input buffer of its own.
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(StreamDecoder, AReadIntoTheScratchKeepsOnlyTheUnfinishedFrame) {
  ReadScratch scratch(1024);
  StreamDecoder d(kMaxPacketSize, v5, 0);
  const Bytes two = cat({kConnect311, kPingreq});
  const Bytes bytes = cat({two, {0xC0}});  // and the first byte of a third
  auto room = d.prepare(16, scratch);
  EXPECT_EQ(room.size(), 1024u);  // the whole scratch, not the hint
  std::copy(bytes.begin(), bytes.end(), room.begin());
  d.commit(bytes.size());
  EXPECT_TRUE(scratch.in_use());
  EXPECT_TRUE(d.holds_scratch());
  EXPECT_EQ(drain(d).size(), 2u);
  d.release_scratch();
  EXPECT_FALSE(scratch.in_use());
  EXPECT_EQ(d.buffered(), 1u);
  EXPECT_EQ(d.capacity(), 1u);  // exactly the leftover
  // The next read goes to the scratch again, after a copy of the leftover.
  room = d.prepare(16, scratch);
  room[0] = 0x00;
  d.commit(1);
  EXPECT_EQ(drain(d).size(), 1u);
  d.release_scratch();
  d.shrink_if_idle();
  EXPECT_EQ(d.capacity(), 0u);
}

TEST(StreamDecoder, ABusyScratchOrALargeFrameUsesTheOwnBuffer) {
  ReadScratch scratch(1024);
  StreamDecoder holder(kMaxPacketSize, v5, 0);
  auto room = holder.prepare(16, scratch);
  room[0] = 0xC0;
  holder.commit(1);  // holds the scratch: half a PINGREQ
  StreamDecoder d(kMaxPacketSize, v5, 0);
  room = d.prepare(64, scratch);
  ASSERT_EQ(room.size(), 64u);
  std::copy(kConnect311.begin(), kConnect311.end(), room.begin());
  d.commit(kConnect311.size());
  EXPECT_FALSE(d.holds_scratch());
  EXPECT_EQ(drain(d).size(), 1u);
  holder.release_scratch();
  EXPECT_FALSE(scratch.in_use());
  EXPECT_EQ(holder.buffered(), 1u);

  // More than a quarter of the scratch buffered: the frame grows in its own buffer.
  const Bytes big = publish311(7, 600);
  room = d.prepare(400, scratch);
  std::copy_n(big.begin(), 400, room.begin());
  d.commit(400);
  EXPECT_TRUE(drain(d).empty());
  d.release_scratch();
  room = d.prepare(16, scratch);
  EXPECT_FALSE(scratch.in_use());
  ASSERT_GE(room.size(), big.size() - 400);
  std::copy(big.begin() + 400, big.end(), room.begin());
  d.commit(big.size() - 400);
  EXPECT_FALSE(d.holds_scratch());
  const auto got = drain(d);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], decode_one(big, v311));
}

TEST(StreamDecoder, AnUncommittedOfferLeavesTheScratchFree) {
  ReadScratch scratch(1024);
  {
    StreamDecoder d(kMaxPacketSize, v5, 0);
    (void)d.prepare(16, scratch);  // the read would have blocked
    EXPECT_FALSE(scratch.in_use());
    auto room = d.prepare(16, scratch);
    room[0] = 0xC0;
    d.commit(1);
    EXPECT_TRUE(scratch.in_use());
  }  // destroyed while holding it
  EXPECT_FALSE(scratch.in_use());
}

TEST(StreamDecoder, FailedStateSticks) {
  StreamDecoder d(kMaxPacketSize, v311);
  d.feed(cat({kPuback1, {0x36, 0x03, 0x00, 0x01, 't'}, kPuback1}));  // PUBLISH QoS 3 in between
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::packet);
  ASSERT_EQ(d.next(p), StreamDecoder::Status::error);
  const CodecError first = d.error();
  EXPECT_EQ(first.reason, ReasonCode::malformed_packet);
  EXPECT_EQ(d.next(p), StreamDecoder::Status::error);
  d.feed(kPingreq);
  EXPECT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error(), first);
}

TEST(StreamDecoder, BodyErrorSticksToo) {
  StreamDecoder d(kMaxPacketSize, v311);
  d.feed(Bytes{0x40, 0x02, 0x00, 0x00});  // PUBACK with Packet Identifier 0
  Packet p;
  ASSERT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error().reason, ReasonCode::protocol_error);
  d.feed(kPuback1);
  EXPECT_EQ(d.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(d.error().reason, ReasonCode::protocol_error);
}

}  // namespace
}  // namespace roadmq::mqtt
