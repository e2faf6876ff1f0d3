// Reasons the net module closes a connection, as std::error_code values so a
// handler's on_closed() sees one type whether the cause was the peer, the
// kernel (system_category errno values) or this module's own policy.
//
// Thread safety: the category is a stateless singleton; usable from any thread.
#pragma once

#include <system_error>

namespace roadmq::net {

enum class Error {
  peer_closed = 1,  // the peer closed its side (read returned 0)
  local_close,      // close() finished: output flushed, FIN sent
  aborted,          // abort() was called
  output_overflow,  // pending output exceeded ConnectionOptions::hard_limit
  close_timeout,    // close() could not flush within close_timeout
  shutdown,         // the shard pool stopped with the connection open
  no_handler,       // the accept callback attached no handler
};

const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(Error e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace roadmq::net

template <>
struct std::is_error_code_enum<roadmq::net::Error> : std::true_type {};
