// Codec micro-benchmarks: decode + encode of the packets on the broker's
// hottest paths (a 64-byte telemetry PUBLISH, a CONNECT).
//   build/release/bench/codec_bench
#include <benchmark/benchmark.h>

#include <string>

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"

namespace mq = roadmq::mqtt;

namespace {

mq::Publish telemetry_publish(mq::QoS qos) {
  mq::Publish p;
  p.topic = "vehicle/LSVAU2180N2183294/up";
  p.payload = std::string(64, 'x');
  p.qos = qos;
  p.packet_id = mq::PacketId{qos == mq::QoS::at_most_once ? std::uint16_t{0} : std::uint16_t{42}};
  return p;
}

mq::Connect vehicle_connect(mq::ProtocolVersion v) {
  mq::Connect c;
  c.version = v;
  c.clean_start = false;
  c.keep_alive = 60;
  c.client_id = "LSVAU2180N2183294";
  c.username = "vehicle";
  c.password = "s3cr3t-token-0123456789";
  c.will = mq::Will{"vehicle/LSVAU2180N2183294/status", "offline", mq::QoS::at_least_once, true, {}};
  if (v == mq::ProtocolVersion::v5) {
    c.properties.set_session_expiry_interval(86400);
    c.properties.set_receive_maximum(32);
  }
  return c;
}

void run_decode_encode(benchmark::State& state, const mq::Packet& packet, mq::ProtocolVersion v) {
  mq::ByteBuffer wire;
  mq::encode(packet, v, wire);
  mq::ByteBuffer out;
  out.reserve(wire.size());
  for (auto _ : state) {
    const auto frame = mq::parse_frame(wire, mq::kMaxPacketSize, v);
    auto decoded = mq::decode_packet(frame.frame, v);
    out.clear();
    mq::encode(*decoded, v, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}

void run_decode(benchmark::State& state, const mq::Packet& packet, mq::ProtocolVersion v) {
  mq::ByteBuffer wire;
  mq::encode(packet, v, wire);
  for (auto _ : state) {
    const auto frame = mq::parse_frame(wire, mq::kMaxPacketSize, v);
    auto decoded = mq::decode_packet(frame.frame, v);
    benchmark::DoNotOptimize(decoded);
  }
}

void run_encode(benchmark::State& state, const mq::Packet& packet, mq::ProtocolVersion v) {
  mq::ByteBuffer out;
  for (auto _ : state) {
    out.clear();
    mq::encode(packet, v, out);
    benchmark::DoNotOptimize(out.data());
  }
}

void BM_Publish64_DecodeEncode_v311(benchmark::State& s) {
  run_decode_encode(s, telemetry_publish(mq::QoS::at_least_once), mq::ProtocolVersion::v3_1_1);
}
void BM_Publish64_DecodeEncode_v5(benchmark::State& s) {
  run_decode_encode(s, telemetry_publish(mq::QoS::at_least_once), mq::ProtocolVersion::v5);
}
void BM_Publish64_Decode_v5(benchmark::State& s) {
  run_decode(s, telemetry_publish(mq::QoS::at_least_once), mq::ProtocolVersion::v5);
}
void BM_Publish64_Encode_v5(benchmark::State& s) {
  run_encode(s, telemetry_publish(mq::QoS::at_least_once), mq::ProtocolVersion::v5);
}
void BM_Connect_DecodeEncode_v311(benchmark::State& s) {
  run_decode_encode(s, vehicle_connect(mq::ProtocolVersion::v3_1_1), mq::ProtocolVersion::v3_1_1);
}
void BM_Connect_DecodeEncode_v5(benchmark::State& s) {
  run_decode_encode(s, vehicle_connect(mq::ProtocolVersion::v5), mq::ProtocolVersion::v5);
}

// A stream of 64-byte publishes, as one socket read would deliver them.
void BM_StreamDecoder_Publish64_v311(benchmark::State& state) {
  mq::ByteBuffer wire;
  for (int i = 0; i < 64; ++i)
    mq::encode(telemetry_publish(mq::QoS::at_most_once), mq::ProtocolVersion::v3_1_1, wire);
  mq::StreamDecoder decoder(mq::kMaxPacketSize, mq::ProtocolVersion::v3_1_1, 8192);
  mq::Packet packet;
  for (auto _ : state) {
    decoder.feed(wire);
    while (decoder.next(packet) == mq::StreamDecoder::Status::packet) benchmark::DoNotOptimize(packet);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 64));
}

}  // namespace

BENCHMARK(BM_Publish64_DecodeEncode_v311);
BENCHMARK(BM_Publish64_DecodeEncode_v5);
BENCHMARK(BM_Publish64_Decode_v5);
BENCHMARK(BM_Publish64_Encode_v5);
BENCHMARK(BM_Connect_DecodeEncode_v311);
BENCHMARK(BM_Connect_DecodeEncode_v5);
BENCHMARK(BM_StreamDecoder_Publish64_v311);

BENCHMARK_MAIN();
