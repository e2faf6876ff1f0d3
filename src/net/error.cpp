#include "net/error.hpp"

#include <string>

namespace roadmq::net {
namespace {

class NetCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "roadmq.net"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::peer_closed: return "connection closed by peer";
      case Error::local_close: return "connection closed locally";
      case Error::aborted: return "connection aborted";
      case Error::output_overflow: return "output buffer limit exceeded";
      case Error::close_timeout: return "close timed out flushing output";
      case Error::shutdown: return "shard pool shutting down";
      case Error::no_handler: return "no handler attached on accept";
    }
    return "unknown net error";
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const NetCategory category;
  return category;
}

}  // namespace roadmq::net
