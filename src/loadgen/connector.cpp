// Without a source address this is net::tcp_connect. With one, the socket
// is opened, bound and connected here with Asio (which net compiles once),
// then adopted by net: binding must happen between socket() and connect(),
// and net's connect path has no hook for it.
#include "loadgen/connector.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "base/assert.hpp"
#include "net/shard.hpp"
#include "net/tcp_connection.hpp"
#include "net/unique_fd.hpp"

namespace roadmq::loadgen {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using Socket = asio::basic_stream_socket<Tcp, asio::io_context::executor_type>;

std::error_code to_std(const boost::system::error_code& ec) {
  if (!ec) return {};
  if (ec == asio::error::operation_aborted)
    return std::make_error_code(std::errc::operation_canceled);
  if (ec.category() == boost::system::system_category())
    return {ec.value(), std::system_category()};
  return static_cast<std::error_code>(ec);
}

Tcp::endpoint to_asio(const net::Endpoint& e) {
  if (e.family == net::Endpoint::Family::v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(e.address.begin(), e.address.end(), b.begin());
    return {asio::ip::address_v6(b), e.port};
  }
  asio::ip::address_v4::bytes_type b;
  std::copy(e.address.begin(), e.address.begin() + 4, b.begin());
  return {asio::ip::address_v4(b), e.port};
}

struct BoundConnect {
  BoundConnect(net::Shard& s, std::shared_ptr<net::ConnectionGroup> g, const net::Endpoint& to,
               ConnectDone d)
      : shard(s),
        socket(s.io().get_executor()),
        group(std::move(g)),
        server(to),
        done(std::move(d)) {}

  void finish(Expected<net::ConnectionPtr, std::error_code> r) {
    if (finished) return;
    finished = true;
    if (timer.valid()) shard.timers().cancel(timer);
    done(std::move(r));
  }

  net::Shard& shard;
  Socket socket;
  std::shared_ptr<net::ConnectionGroup> group;
  net::Endpoint server;
  ConnectDone done;
  net::TimerQueue::Handle timer;
  bool finished = false;
};

void connect_bound(net::Shard& shard, const ConnectRequest& req,
                   std::shared_ptr<net::ConnectionGroup> group, ConnectDone done) {
  auto op = std::make_shared<BoundConnect>(shard, std::move(group), req.server, std::move(done));
  const Tcp::endpoint target = to_asio(req.server);
  boost::system::error_code ec;
  op->socket.open(target.protocol(), ec);
  if (!ec) {
    // Without this, bind() picks the port and reserves it for this address
    // alone, so ~28k connections exhaust a source address whatever the
    // destination; with it the port is chosen at connect() per 4-tuple.
    const int one = 1;
    (void)::setsockopt(op->socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                       sizeof one);
    op->socket.bind(to_asio(*req.source), ec);
  }
  if (ec) {
    asio::post(shard.io().get_executor(), [op, err = to_std(ec)] { op->finish(Unexpected{err}); });
    return;
  }
  op->timer = shard.timers().schedule_after(req.timeout, [op] {
    op->timer = {};
    boost::system::error_code ignored;
    op->socket.close(ignored);  // the connect completes aborted and is ignored
    op->finish(Unexpected{std::make_error_code(std::errc::timed_out)});
  });
  op->socket.async_connect(target, [op](const boost::system::error_code& err) {
    if (op->finished) return;
    if (err) {
      op->finish(Unexpected{to_std(err)});
      return;
    }
    boost::system::error_code rel;
    const int fd = op->socket.release(rel);  // leaves this io_context's reactor
    if (rel) {
      op->finish(Unexpected{to_std(rel)});
      return;
    }
    auto slot = net::ConnectionSlot::acquire(op->group);
    auto c = net::adopt_tcp_socket(op->shard, net::UniqueFd(fd), std::move(slot), op->server);
    if (!c) {
      op->finish(Unexpected{c.error()});
      return;
    }
    op->finish(std::move(*c));
  });
}

}  // namespace

void open_connection(net::Shard& shard, const ConnectRequest& request,
                     std::shared_ptr<net::ConnectionGroup> group, ConnectDone done) {
  ROADMQ_ASSERT(shard.is_current());
  if (!request.source) {
    auto slot = net::ConnectionSlot::acquire(group);
    net::tcp_connect(shard, request.server, std::move(slot), request.timeout, std::move(done));
    return;
  }
  connect_bound(shard, request, std::move(group), std::move(done));
}

}  // namespace roadmq::loadgen
