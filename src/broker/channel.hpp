// The protocol side of one client connection: bytes in through the stream
// decoder, CONNECT checks, then every packet to the session on the client's
// home shard; packets out through the encoder into the transport's output.
//
// Lifecycle: created on the shard that accepted the socket; after a valid
// CONNECT it moves with its connection to the client id's home shard
// (ShardBroker::connect). Owned by the server-side connection adapter, which
// outlives every call into it.
//
// Thread safety: one shard at a time; every call on the owning shard's thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "broker/message.hpp"
#include "broker/presence.hpp"
#include "broker/session_action.hpp"
#include "broker/transport.hpp"
#include "mqtt/decoder.hpp"

namespace roadmq::broker {

class Node;
class ShardBroker;
struct SessionRecord;

class Channel {
 public:
  Channel(Node& node, Transport& transport, ShardId shard, TimePoint now);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  // Where the next socket read goes, and how many bytes it brought.
  std::span<std::uint8_t> read_buffer(std::size_t hint);
  void on_read(std::size_t n);
  // The output backlog drained after output_blocked() was true.
  void on_writable();
  // The connection is gone (peer closed, I/O error, or after close()).
  void on_closed();

  Transport& transport() noexcept { return transport_; }
  ShardId shard() const noexcept { return shard_; }
  mqtt::ProtocolVersion version() const noexcept { return decoder_.version(); }
  TimePoint accepted_at() const noexcept { return accepted_at_; }
  bool connected() const noexcept { return session_ != nullptr; }
  bool closing() const noexcept { return closing_; }
  // The session's copy once bound; the channel keeps its own only before
  // (and after) that, so a connected client's id is stored once.
  std::string_view client_id() const noexcept;
  const std::string& username() const noexcept { return username_; }
  std::uint16_t keep_alive() const noexcept { return keep_alive_; }
  std::uint64_t connected_at_ms() const noexcept { return connected_at_ms_; }

  // Encodes into the transport's output; the write follows when the current
  // handler returns.
  void send(const mqtt::Packet& packet);
  void send_publish(const SendPublish& publish, TimePoint now);
  // In 5.0, a DISCONNECT with `reason` first when `send_disconnect` is set.
  void close(mqtt::ReasonCode reason, bool send_disconnect);

  // Set by ShardBroker on attach / detach.
  void bind(SessionRecord* record);
  SessionRecord* session() const noexcept { return session_; }

  // What presence events and the REST API report about this client.
  ClientInfo info() const noexcept;


 private:
  friend class ShardBroker;  // links the channel into its list awaiting CONNECT

  void process(TimePoint now);
  void on_connect(mqtt::Connect&& connect, TimePoint now);
  void refuse(mqtt::ReasonCode reason, const char* why);
  void protocol_violation(const mqtt::CodecError& error);

  // Small fields last, packed together: one channel per connection.
  Node& node_;
  Transport& transport_;
  mqtt::StreamDecoder decoder_;
  TimePoint accepted_at_;
  SessionRecord* session_ = nullptr;
  std::string client_id_;
  std::string username_;
  std::uint64_t connected_at_ms_ = 0;
  // The shard's intrusive list of connections awaiting CONNECT.
  Channel* pending_prev = nullptr;
  Channel* pending_next = nullptr;
  ShardId shard_;
  std::uint16_t keep_alive_ = 0;
  bool clean_start_ = true;
  bool connect_seen_ = false;
  bool migrating_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool pending_linked = false;  // with pending_prev / pending_next
};

}  // namespace roadmq::broker
