// Opening a client connection: TCP to the broker, optionally from a chosen
// source address, handed to the net module as a Connection of the calling
// shard. This is where a TLS transport plugs in: a second Transport value
// (options.hpp) and a Connection subclass doing SSL_read/SSL_write on the
// same readiness hooks, as src/net/README.md describes; the MQTT client
// above works on net::Connection and needs no change.
//
// Thread safety: call on the shard thread given; `done` runs there later
// (never inline), exactly once, unless the shard stops first.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>

#include "base/expected.hpp"
#include "net/connection.hpp"
#include "net/endpoint.hpp"

namespace roadmq::loadgen {

struct ConnectRequest {
  net::Endpoint server;
  std::optional<net::Endpoint> source;  // port 0: the kernel picks one at connect time
  std::chrono::milliseconds timeout{10000};
};

using ConnectDone = std::function<void(Expected<net::ConnectionPtr, std::error_code>)>;

void open_connection(net::Shard& shard, const ConnectRequest& request,
                     std::shared_ptr<net::ConnectionGroup> group, ConnectDone done);

}  // namespace roadmq::loadgen
