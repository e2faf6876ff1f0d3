// The TCP transport: readiness from the shard's Poller (its own epoll set,
// edge-triggered); reads and writes are plain non-blocking recv/sendmsg so
// one flush is exactly one writev. Asio is used only to connect out.
#include "net/tcp_connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <memory>

#include "base/assert.hpp"
#include "net/poller.hpp"

namespace roadmq::net {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
// Only for connecting out; a connected socket leaves Asio.
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

// Readiness comes from the shard's Poller, edge-triggered: the socket is
// registered once, and what an edge said stays true until a read or write
// comes back short. A wait then is two bits, not an Asio operation.
class TcpConnection final : public Connection, public PollTarget {
 public:
  static Expected<ConnectionPtr, std::error_code> create(Shard& shard, ConnectionSlot slot,
                                                         const Endpoint& remote, UniqueFd fd) {
    auto* raw = new TcpConnection(shard, std::move(slot), remote, fd.get());
    ConnectionPtr c(raw);
    if (const std::error_code ec = shard.poller().add(fd.get(), *raw)) {
      raw->fd_ = -1;  // `fd` closes it
      return Unexpected{ec};
    }
    (void)fd.release();
    raw->attach();
    return c;
  }

  void on_poll(std::uint32_t events) override {
    ConnectionPtr self(this);  // a completion may end the connection
    // Errors and hang-ups are left for the next recv/sendmsg to report.
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) read_ready_ = true;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) write_ready_ = true;
    if (read_ready_ && read_waiting_) {
      read_waiting_ = false;
      on_wait_complete(Wait::read, {});
    }
    if (write_ready_ && write_waiting_ && fd_ >= 0) {
      write_waiting_ = false;
      on_wait_complete(Wait::write, {});
    }
  }

 protected:
  bool transport_wait(Wait w) override {
    if (w == Wait::read) {
      if (read_ready_) return false;
      read_waiting_ = true;
    } else {
      if (write_ready_) return false;
      write_waiting_ = true;
    }
    return true;
  }

  IoResult transport_read(std::span<std::uint8_t> buf) noexcept override {
    for (;;) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
      if (n > 0) {
        // A short read emptied the socket: anything later raises a new edge.
        if (static_cast<std::size_t>(n) < buf.size()) read_ready_ = false;
        return {static_cast<std::size_t>(n), IoResult::Status::ok, {}};
      }
      if (n == 0) return {0, IoResult::Status::eof, {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        read_ready_ = false;
        return {0, IoResult::Status::would_block, {}};
      }
      return {0, IoResult::Status::error, last_error()};
    }
  }

  IoResult transport_write(std::span<const std::span<const std::uint8_t>> bufs) noexcept override {
    std::array<iovec, kMaxSlices> iov;
    const std::size_t n = std::min(bufs.size(), iov.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      iov[i] = iovec{const_cast<std::uint8_t*>(bufs[i].data()), bufs[i].size()};
      total += bufs[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    for (;;) {
      // MSG_NOSIGNAL: a peer that went away is an EPIPE here, not a SIGPIPE.
      const ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (w >= 0) {
        // A short write filled the send buffer; the kernel raises an edge
        // once there is room again.
        if (static_cast<std::size_t>(w) < total) write_ready_ = false;
        return {static_cast<std::size_t>(w), IoResult::Status::ok, {}};
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        write_ready_ = false;
        return {0, IoResult::Status::would_block, {}};
      }
      return {0, IoResult::Status::error, last_error()};
    }
  }

  void transport_cancel() noexcept override {
    for (const Wait w : {Wait::read, Wait::write}) {
      if (w == Wait::read ? !read_waiting_ : !write_waiting_) continue;
      (w == Wait::read ? read_waiting_ : write_waiting_) = false;
      asio::post(shard().io().get_executor(), [self = ConnectionPtr(this), w] {
        static_cast<TcpConnection&>(*self).on_wait_complete(
            w, std::make_error_code(std::errc::operation_canceled));
      });
    }
  }

  void transport_shutdown_send() noexcept override {
    if (fd_ >= 0) (void)::shutdown(fd_, SHUT_WR);  // the peer may be gone already
  }

  void transport_close() noexcept override {
    if (fd_ < 0) return;
    shard().poller().remove(fd_, *this);
    ::close(fd_);
    fd_ = -1;
    read_waiting_ = write_waiting_ = false;  // nothing will complete them
  }

  std::unique_ptr<MovedTransport> transport_export(std::error_code& ec) noexcept override;

  Endpoint transport_local_endpoint() const noexcept override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
    return Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
  }

 private:
  TcpConnection(Shard& shard, ConnectionSlot slot, const Endpoint& remote, int fd) noexcept
      : Connection(shard, std::move(slot), remote), fd_(fd) {}

  ~TcpConnection() override {
    if (fd_ >= 0) {  // never attached, or the shard stopped without a close
      shard().poller().remove(fd_, *this);
      ::close(fd_);
    }
  }

  int fd_;
  // Until a read or write comes back short, the socket is assumed ready:
  // the first read of a new connection often finds CONNECT already there.
  bool read_ready_ : 1 = true;
  bool write_ready_ : 1 = true;
  bool read_waiting_ : 1 = false;
  bool write_waiting_ : 1 = false;
};

// A TCP socket between shards: just the descriptor.
class MovedTcp final : public MovedTransport {
 public:
  explicit MovedTcp(UniqueFd fd) noexcept : fd_(std::move(fd)) {}

  ConnectionPtr rebuild(Shard& target, ConnectionSlot slot, const Endpoint& remote,
                        std::error_code& ec) override {
    ROADMQ_ASSERT(target.is_current());
    auto c = TcpConnection::create(target, std::move(slot), remote, std::move(fd_));
    if (!c) {
      ec = c.error();
      return {};
    }
    return std::move(*c);
  }

 private:
  UniqueFd fd_;
};

std::unique_ptr<MovedTransport> TcpConnection::transport_export(std::error_code& ec) noexcept {
  if (fd_ < 0) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return nullptr;
  }
  // No wait is pending (asserted by the caller). The target registers the
  // socket afresh, and that reports whatever is ready by then.
  shard().poller().remove(fd_, *this);
  return std::make_unique<MovedTcp>(UniqueFd(std::exchange(fd_, -1)));
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
  return TcpConnection::create(shard, std::move(slot), remote, std::move(fd));
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
    // Releasing it from Asio's reactor hands it to the shard's Poller.
    boost::system::error_code rec;
    UniqueFd fd(op->socket.release(rec));
    if (rec) {
      op->done(Unexpected{to_std(rec)});
      return;
    }
    op->done(TcpConnection::create(op->shard, std::move(op->slot), op->to, std::move(fd)));
  });
}

}  // namespace roadmq::net
