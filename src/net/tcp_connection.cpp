// The TCP transport: Asio supplies readiness waits (epoll) and socket
// lifetime on the shard's io_context; reads and writes are plain
// non-blocking recv/sendmsg so one flush is exactly one writev.
#include "net/tcp_connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <memory>

#include "base/assert.hpp"

namespace roadmq::net {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
// The io_context executor (one pointer) rather than any_io_executor keeps
// the socket and every pending wait operation small.
using Socket = asio::basic_stream_socket<Tcp, asio::io_context::executor_type>;

std::error_code to_std(const boost::system::error_code& ec) {
  if (!ec) return {};
  if (ec == asio::error::operation_aborted) return std::make_error_code(std::errc::operation_canceled);
  if (ec.category() == boost::system::system_category()) return {ec.value(), std::system_category()};
  return static_cast<std::error_code>(ec);
}

std::error_code last_error() { return {errno, std::system_category()}; }

// Best effort: an option the kernel refuses (or a non-TCP stream socket)
// leaves the default, which still works.
void apply_socket_options(int fd, const ConnectionOptions& o) noexcept {
  if (o.no_delay == NoDelay::yes) {
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (o.send_buffer > 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o.send_buffer, sizeof o.send_buffer);
  if (o.receive_buffer > 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.receive_buffer, sizeof o.receive_buffer);
}

Tcp::endpoint to_asio(const Endpoint& e) {
  if (e.family == Endpoint::Family::v6) {
    asio::ip::address_v6::bytes_type b;
    std::copy(e.address.begin(), e.address.end(), b.begin());
    return {asio::ip::address_v6(b), e.port};
  }
  asio::ip::address_v4::bytes_type b;
  std::copy(e.address.begin(), e.address.begin() + 4, b.begin());
  return {asio::ip::address_v4(b), e.port};
}

class TcpConnection final : public Connection {
 public:
  static ConnectionPtr create(Shard& shard, ConnectionSlot slot, const Endpoint& remote,
                              Socket socket) {
    auto* raw = new TcpConnection(shard, std::move(slot), remote, std::move(socket));
    ConnectionPtr c(raw);
    raw->attach();
    return c;
  }

 protected:
  void transport_wait(Wait w) override {
    socket_.async_wait(w == Wait::read ? Socket::wait_read : Socket::wait_write,
                       [self = boost::intrusive_ptr<TcpConnection>(this),
                        w](const boost::system::error_code& ec) {
                         self->on_wait_complete(w, to_std(ec));
                       });
  }

  IoResult transport_read(std::span<std::uint8_t> buf) noexcept override {
    for (;;) {
      const ssize_t n = ::recv(socket_.native_handle(), buf.data(), buf.size(), 0);
      if (n > 0) return {static_cast<std::size_t>(n), IoResult::Status::ok, {}};
      if (n == 0) return {0, IoResult::Status::eof, {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, IoResult::Status::would_block, {}};
      return {0, IoResult::Status::error, last_error()};
    }
  }

  IoResult transport_write(std::span<const std::span<const std::uint8_t>> bufs) noexcept override {
    std::array<iovec, kMaxSlices> iov;
    const std::size_t n = std::min(bufs.size(), iov.size());
    for (std::size_t i = 0; i < n; ++i)
      iov[i] = iovec{const_cast<std::uint8_t*>(bufs[i].data()), bufs[i].size()};
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    for (;;) {
      // MSG_NOSIGNAL: a peer that went away is an EPIPE here, not a SIGPIPE.
      const ssize_t w = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
      if (w >= 0) return {static_cast<std::size_t>(w), IoResult::Status::ok, {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, IoResult::Status::would_block, {}};
      return {0, IoResult::Status::error, last_error()};
    }
  }

  void transport_cancel() noexcept override {
    boost::system::error_code ignored;
    socket_.cancel(ignored);
  }

  void transport_shutdown_send() noexcept override {
    boost::system::error_code ignored;  // the peer may be gone already
    socket_.shutdown(Socket::shutdown_send, ignored);
  }

  void transport_close() noexcept override {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  std::unique_ptr<MovedTransport> transport_export(std::error_code& ec) noexcept override;

  Endpoint transport_local_endpoint() const noexcept override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    // native_handle() is not const in Asio; reading the descriptor is.
    const int fd = const_cast<Socket&>(socket_).native_handle();
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  }

 private:
  TcpConnection(Shard& shard, ConnectionSlot slot, const Endpoint& remote, Socket socket) noexcept
      : Connection(shard, std::move(slot), remote), socket_(std::move(socket)) {}

  Socket socket_;
};

// A TCP socket between shards: just the descriptor and its family.
class MovedTcp final : public MovedTransport {
 public:
  MovedTcp(UniqueFd fd, bool v6) noexcept : fd_(std::move(fd)), v6_(v6) {}

  ConnectionPtr rebuild(Shard& target, ConnectionSlot slot, const Endpoint& remote,
                        std::error_code& ec) override {
    ROADMQ_ASSERT(target.is_current());
    Socket s(target.io().get_executor());
    boost::system::error_code bec;
    s.assign(v6_ ? Tcp::v6() : Tcp::v4(), fd_.get(), bec);  // registers with the target's epoll
    if (bec) {
      ec = to_std(bec);
      return {};
    }
    (void)fd_.release();  // owned by `s` now
    return TcpConnection::create(target, std::move(slot), remote, std::move(s));
  }

 private:
  UniqueFd fd_;
  bool v6_;
};

std::unique_ptr<MovedTransport> TcpConnection::transport_export(std::error_code& ec) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const bool v6 = ::getsockname(socket_.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len) == 0
                      ? ss.ss_family == AF_INET6
                      : remote_endpoint().family == Endpoint::Family::v6;
  boost::system::error_code bec;
  // Deregisters from this shard's epoll; no wait is pending (asserted by the
  // caller), so nothing is cancelled.
  const int fd = socket_.release(bec);
  if (bec) {
    ec = to_std(bec);
    return nullptr;
  }
  return std::make_unique<MovedTcp>(UniqueFd(fd), v6);
}

Expected<ConnectionPtr, std::error_code> adopt(Shard& shard, UniqueFd fd, ConnectionSlot slot,
                                               const Endpoint& remote) {
  ROADMQ_ASSERT(shard.is_current());
  ROADMQ_ASSERT(slot.group() != nullptr);
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0) return Unexpected{last_error()};
  if ((flags & O_NONBLOCK) == 0 && ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
    return Unexpected{last_error()};
  apply_socket_options(fd.get(), slot.group()->options());
  Socket s(shard.io().get_executor());
  boost::system::error_code bec;
  s.assign(remote.family == Endpoint::Family::v6 ? Tcp::v6() : Tcp::v4(), fd.get(), bec);
  if (bec) return Unexpected{to_std(bec)};
  (void)fd.release();
  return TcpConnection::create(shard, std::move(slot), remote, std::move(s));
}

struct ConnectOp {
  ConnectOp(Shard& s, ConnectionSlot sl, const Endpoint& remote, ConnectCallback d)
      : shard(s), socket(s.io().get_executor()), slot(std::move(sl)), to(remote), done(std::move(d)) {}

  Shard& shard;
  Socket socket;
  ConnectionSlot slot;
  Endpoint to;
  ConnectCallback done;
  TimerQueue::Handle timer;
  bool finished = false;
};

}  // namespace

Expected<ConnectionPtr, std::error_code> adopt_tcp_socket(Shard& shard, UniqueFd fd,
                                                          ConnectionSlot slot,
                                                          const Endpoint& remote) {
  return adopt(shard, std::move(fd), std::move(slot), remote);
}

Expected<ConnectionPtr, std::error_code> adopt_tcp_socket(Shard& shard, UniqueFd fd,
                                                          ConnectionSlot slot) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Unexpected{last_error()};
  return adopt(shard, std::move(fd), std::move(slot),
               Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len));
}

void tcp_connect(Shard& shard, const Endpoint& to, ConnectionSlot slot,
                 std::chrono::milliseconds timeout, ConnectCallback done) {
  ROADMQ_ASSERT(shard.is_current());
  auto op = std::make_shared<ConnectOp>(shard, std::move(slot), to, std::move(done));
  const Tcp::endpoint target = to_asio(to);
  boost::system::error_code ec;
  op->socket.open(target.protocol(), ec);
  if (ec) {
    // Report from a fresh handler run, as for every other outcome.
    asio::post(shard.io().get_executor(), [op, err = to_std(ec)] { op->done(Unexpected{err}); });
    return;
  }
  // Before connecting, so SO_RCVBUF can shape the window scale in the SYN.
  apply_socket_options(op->socket.native_handle(), op->slot.group()->options());
  op->timer = shard.timers().schedule_after(timeout, [op] {
    if (op->finished) return;
    op->finished = true;
    boost::system::error_code ignored;
    op->socket.close(ignored);  // the connect completes aborted and is ignored
    op->done(Unexpected{std::make_error_code(std::errc::timed_out)});
  });
  op->socket.async_connect(target, [op](const boost::system::error_code& err) {
    if (op->finished) return;
    op->finished = true;
    op->shard.timers().cancel(op->timer);
    if (err) {
      op->done(Unexpected{to_std(err)});
      return;
    }
    // async_connect left the descriptor non-blocking, as the transport needs.
    ConnectionPtr c = TcpConnection::create(op->shard, std::move(op->slot), op->to,
                                            std::move(op->socket));
    op->done(std::move(c));
  });
}

}  // namespace roadmq::net
