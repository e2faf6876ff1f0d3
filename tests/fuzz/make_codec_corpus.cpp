// Writes the codec fuzz target's seed corpus from the golden vectors: each
// seed is the harness's control byte (version, read size) followed by one
// valid packet, plus a few multi-packet streams per version.
//   make_codec_corpus OUT_DIR
#include <cstdio>
#include <fstream>
#include <string>

#include "mqtt/golden_vectors.hpp"

namespace mq = roadmq::mqtt;

namespace {

std::uint8_t control(mq::ProtocolVersion v, std::uint8_t chunk_selector) {
  const std::uint8_t version_index = v == mq::ProtocolVersion::v3_1 ? 0 : v == mq::ProtocolVersion::v3_1_1 ? 1 : 2;
  return static_cast<std::uint8_t>(version_index | ((chunk_selector & 0x1F) << 2));
}

void write(const std::string& path, std::uint8_t ctl, const mq::ByteBuffer& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.put(static_cast<char>(ctl));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_codec_corpus OUT_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  int n = 0;
  mq::ByteBuffer streams[3];
  for (const auto& v : roadmq::mqtt::golden::build_golden_vectors()) {
    if (v.bytes.size() > 4096) continue;  // keep seeds small
    write(dir + "/" + v.name, control(v.version, static_cast<std::uint8_t>(n % 32)), v.bytes);
    const int idx = static_cast<int>(v.version) - 3;
    if (!std::holds_alternative<mq::Connect>(v.packet))
      streams[idx].insert(streams[idx].end(), v.bytes.begin(), v.bytes.end());
    ++n;
  }
  const mq::ProtocolVersion versions[] = {mq::ProtocolVersion::v3_1, mq::ProtocolVersion::v3_1_1,
                                          mq::ProtocolVersion::v5};
  for (int i = 0; i < 3; ++i) write(dir + "/stream_v" + std::to_string(i + 3), control(versions[i], 3), streams[i]);
  std::printf("%d seeds\n", n + 3);
  return 0;
}
