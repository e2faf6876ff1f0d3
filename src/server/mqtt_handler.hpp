// Runs a broker::Channel over a net::Connection: the net handler interface on
// one side, the broker's Transport on the other. Moves with its connection
// when the channel migrates to the client id's home shard.
//
// Thread safety: the shard that currently owns the connection.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "broker/channel.hpp"
#include "broker/node.hpp"
#include "broker/transport.hpp"
#include "net/connection.hpp"

namespace roadmq::server {

class MqttHandler final : public net::ConnectionHandler, public broker::Transport {
 public:
  explicit MqttHandler(broker::Node& node);

  // Called once the handler is installed on its connection.
  void start(broker::ShardId shard);

  // net::ConnectionHandler
  std::span<std::uint8_t> read_buffer(std::size_t hint) override;
  void on_read(std::size_t n) override;
  void on_closed(std::error_code reason) override;
  void on_writable() override;

  // broker::Transport
  mqtt::ByteBuffer& output() override {
    // Output storage goes back to the shard once written (idle connections
    // keep none); a burst starts in a buffer the shard kept, or with room
    // for several packets rather than a doubling series.
    auto& bytes = connection().out().bytes();
    if (bytes.capacity() == 0) connection().prepare_output(kFirstOutputBytes);
    return bytes;
  }
  void flush() override { connection().flush(); }
  std::size_t output_pending() const override { return connection().output_pending(); }
  std::size_t output_headroom() const override { return connection().output_headroom(); }
  void close() override { connection().close(); }
  std::string peer_address() const override { return connection().remote_endpoint().to_string(); }
  void migrate(broker::ShardId shard, std::function<void()> done) override;

 private:
  static constexpr std::size_t kFirstOutputBytes = 512;

  broker::Node& node_;
  std::optional<broker::Channel> channel_;
};

}  // namespace roadmq::server
