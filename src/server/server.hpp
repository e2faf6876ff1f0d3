// The MQTT server of one node: the shard pool, the broker node on it, and
// the TCP listeners whose connections run broker::Channels. Staged start and
// stop (stop accepting → DISCONNECT 0x8B to v5 clients → drain → stop shards).
//
// Thread safety: start()/stop() on the main thread; everything else runs on
// the shards.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "broker/node.hpp"
#include "config/settings.hpp"

namespace roadmq::server {

struct BoundListener {
  std::string name;     // "tcp:default"
  std::string address;  // "127.0.0.1:1883", with the real port when 0 was asked
};

class Server {
 public:
  Server(const config::Settings& settings, broker::NodeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Expected<void, std::string> start();
  void stop();

  const std::vector<BoundListener>& listeners() const noexcept { return bound_; }
  unsigned shard_count() const noexcept;

 private:
  // Durable sessions: opens node.data_dir, reads the stored state back into
  // the shards and starts the committer, before any listener opens.
  Expected<void, std::string> open_storage();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<BoundListener> bound_;
};

}  // namespace roadmq::server
