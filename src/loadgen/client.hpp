// Client: one MQTT client session driven over a net::Connection: CONNECT,
// SUBSCRIBE, QoS 0/1/2 flows in both directions, keep alive, and the
// session state that survives a reconnect (unacknowledged publishes,
// QoS 2 identifiers awaiting PUBREL). What to publish, when, and what a
// received message means is the owner's business (ClientEvents); the client
// only speaks the protocol.
//
//   down ──connect()──▶ tcp ──connected──▶ mqtt ──CONNACK ok──▶ subscribing ──SUBACK──▶ ready
//    ▲                   │                  │  (CONNECT sent)    │  (only with filters and
//    │                   │ error, timeout   │ refused, closed,   │   no session present)
//    │                   ▼                  ▼ timeout            ▼
//    └──────────────── on_down(connect_failed) ◀──────────────────┘
//   ready / subscribing ──peer closed, error, ping timeout──▶ down, on_down(lost)
//                      ──drop()──▶ down, on_down(dropped)       (a simulated tunnel)
//                      ──disconnect()──▶ closing ──▶ down, on_down(closed)
//
// Reconnecting with a session present resends unacknowledged PUBLISHes
// (DUP set) and PUBRELs, oldest first [MQTT-4.4.0-1]; a CONNACK without a
// session present discards them (counted as dropped) and subscribes again.
//
// Hot path: publish() encodes straight into the connection's output buffer
// from a worker-owned payload scratch; nothing is allocated per message
// once buffers have grown. Incoming bytes land in the StreamDecoder's
// buffer (no copy) and are decoded there.
//
// Thread safety: owned by one worker; every call on that worker's shard
// thread. Lives as long as its worker (longer than any connection it opens).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "loadgen/outbound_window.hpp"
#include "loadgen/payload.hpp"
#include "mqtt/decoder.hpp"
#include "mqtt/packet.hpp"
#include "net/connection.hpp"
#include "net/endpoint.hpp"

namespace roadmq::net {
class Shard;
}

namespace roadmq::loadgen {

using Clock = std::chrono::steady_clock;

class Client;

enum class DownCause : std::uint8_t {
  connect_failed,  // no session established: TCP error, timeout, refused CONNACK, closed early
  lost,            // an established connection ended without us asking
  dropped,         // drop(): a simulated outage
  closed,          // disconnect(): the end of the run
};

// Session parameters every client of a run shares.
struct SessionConfig {
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::v5;
  std::uint16_t keepalive = 60;
  bool clean_first = true;           // Clean Start of the first CONNECT
  bool clean_reconnect = true;       // ... and of later ones
  std::uint32_t session_expiry = 0;  // v5
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::uint16_t inflight = 64;
  std::chrono::milliseconds connect_timeout{10000};
  std::size_t read_capacity = 1024;  // initial decoder buffer
};

struct ReadyInfo {
  bool session_present = false;  // CONNACK Session Present
  bool granted = true;           // every filter of the SUBSCRIBE was granted
};

enum class AckOutcome : std::uint8_t { accepted, refused };  // refused: a failure reason code

class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  // CONNACK accepted and, if the client has filters, SUBACK came (or the
  // session was present).
  virtual void on_ready(Client& c, ReadyInfo info) = 0;
  // A new delivery (a QoS 2 repeat before PUBREL is not one).
  virtual void on_message(Client& c, const mqtt::Publish& p) = 0;
  // A QoS 1/2 publish completed.
  virtual void on_acked(Client& c, const OutboundEntry& e, AckOutcome outcome) = 0;
  // The client is down; `why` describes the error for connect_failed / lost.
  virtual void on_down(Client& c, DownCause cause, const std::string& why) = 0;
  // Inflight room or output room appeared (an ack, or output drained).
  virtual void on_room(Client& c) = 0;
};

class Client {
 public:
  enum class State : std::uint8_t { down, tcp, mqtt, subscribing, ready, closing };

  struct Setup {
    net::Shard* shard = nullptr;
    ClientEvents* events = nullptr;
    PayloadScratch* scratch = nullptr;
    const SessionConfig* session = nullptr;
    std::shared_ptr<net::ConnectionGroup> group;
    net::Endpoint server;
    std::optional<net::Endpoint> source;
    std::string client_id;
    std::vector<mqtt::Subscription> subscriptions;
    std::uint32_t local_index = 0;  // the owner's index for this client
  };

  explicit Client(Setup setup);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // down -> tcp. The first call uses clean_first, later ones clean_reconnect.
  void connect();
  // Graceful end: DISCONNECT (v5: with Session Expiry 0 when `end_session`),
  // then close. A pending connect attempt is abandoned.
  enum class EndSession : bool { no, yes };
  void disconnect(EndSession end_session);
  // Simulated outage: the socket closes at once, no DISCONNECT.
  void drop();
  // Periodic checks: CONNACK/SUBACK timeout, keep alive ping and its answer.
  void check_timers(Clock::time_point now);

  // Publishing. budget(): how many PUBLISHes of `wire_size` bytes fit now
  // (inflight room for QoS > 0, output headroom); 0 unless ready.
  std::size_t budget(std::size_t wire_size, std::uint8_t qos) const noexcept;
  void publish(const std::string& topic, std::uint8_t qos, bool retain, const PayloadHeader& h,
               std::size_t payload_size);
  // Hands what publish() appended to the connection (one write per run).
  void flush();

  State state() const noexcept { return state_; }
  bool ready() const noexcept { return state_ == State::ready; }
  bool connected() const noexcept { return conn_ != nullptr; }
  const std::string& client_id() const noexcept { return setup_.client_id; }
  std::uint32_t local_index() const noexcept { return setup_.local_index; }
  std::size_t inflight() const noexcept { return window_.active(); }
  bool ever_connected() const noexcept { return ever_connected_; }
  // Retransmissions (DUP PUBLISH, repeated PUBREL) and entries discarded
  // because the broker lost the session, since the last call.
  std::uint64_t take_retransmitted() noexcept { return std::exchange(retransmitted_, 0); }
  std::uint64_t take_dropped_inflight() noexcept { return std::exchange(dropped_inflight_, 0); }
  // Connect to CONNACK (+SUBACK) time of the last successful attempt.
  Clock::duration last_connect_time() const noexcept { return connect_time_; }

 private:
  class Link;
  friend class Link;
  enum class Intent : std::uint8_t { none, graceful, drop, failed };

  std::span<std::uint8_t> read_buffer(std::size_t hint);
  void on_read(std::size_t n);
  void on_closed(std::error_code reason);
  void on_writable();
  void on_tcp(std::uint32_t attempt, Expected<net::ConnectionPtr, std::error_code> r);

  void handle(mqtt::Packet& p);
  void handle_connack(const mqtt::Connack& c);
  void handle_publish(const mqtt::Publish& p);
  void handle_suback(const mqtt::Suback& s);
  void handle_ack(mqtt::Packet& p);
  void send(const mqtt::Packet& p);
  void resend_session();
  void become_ready();
  void fail(Intent intent, std::string why);  // abort with a recorded reason
  void session_lost_locally();

  Setup setup_;
  State state_ = State::down;
  Intent intent_ = Intent::none;
  net::ConnectionPtr conn_;
  std::optional<mqtt::StreamDecoder> decoder_;  // per connection; none while down
  mqtt::Packet packet_;                         // decode target, reused
  OutboundWindow window_;
  std::vector<std::uint16_t> awaiting_rel_;  // inbound QoS 2 ids before PUBREL
  std::uint32_t attempt_ = 0;
  std::uint16_t subscribe_id_ = 0;
  bool ever_connected_ = false;
  bool session_present_ = false;
  bool wrote_ = false;              // output appended during this handler run
  bool granted_ = true;             // every filter of the last SUBSCRIBE was granted
  mutable bool want_room_ = false;  // budget() said 0: tell on_room() when that changes
  std::uint16_t keepalive_ = 0;     // in force: ours, or the broker's Server Keep Alive
  bool ping_outstanding_ = false;
  std::string why_;  // reason kept for on_down
  Clock::time_point attempt_started_{};
  Clock::time_point last_out_{};
  Clock::time_point ping_sent_{};
  Clock::duration connect_time_{};
  std::uint64_t retransmitted_ = 0;
  std::uint64_t dropped_inflight_ = 0;
};

}  // namespace roadmq::loadgen
