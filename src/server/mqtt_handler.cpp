#include "server/mqtt_handler.hpp"

namespace roadmq::server {

MqttHandler::MqttHandler(broker::Node& node) : node_(node) {}

void MqttHandler::start(broker::ShardId shard) {
  channel_.emplace(node_, *this, shard, broker::SteadyClock::now());
}

std::span<std::uint8_t> MqttHandler::read_buffer(std::size_t hint) { return channel_->read_buffer(hint); }

void MqttHandler::on_read(std::size_t n) { channel_->on_read(n); }

void MqttHandler::on_closed(std::error_code) { channel_->on_closed(); }

void MqttHandler::on_writable() { channel_->on_writable(); }

void MqttHandler::migrate(broker::ShardId shard, std::function<void()> done) {
  connection().migrate_to(net::ShardId{shard.value}, [done = std::move(done)](net::Connection&) { done(); });
}

}  // namespace roadmq::server
