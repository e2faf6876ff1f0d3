// Endpoint: an IPv4/IPv6 address and port as a small value (20 bytes), so a
// connection can keep its peer address without a heap string; formatted on
// demand for logs. parse_endpoint() reads the "host:port" of listener config.
//
// Thread safety: value type; pure functions.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/expected.hpp"

namespace roadmq::net {

struct Endpoint {
  enum class Family : std::uint8_t { none, v4, v6 };

  std::array<std::uint8_t, 16> address{};  // v4 uses the first 4 bytes
  std::uint16_t port = 0;                  // host byte order
  Family family = Family::none;

  bool is_unspecified() const noexcept;
  // "1.2.3.4:1883", "[::1]:1883"; empty for Family::none.
  std::string to_string() const;
  std::string address_string() const;

  // Writes a sockaddr_in/sockaddr_in6; returns its length (0 for none).
  socklen_t to_sockaddr(sockaddr_storage& out) const noexcept;
  static Endpoint from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

  static Endpoint v4(std::array<std::uint8_t, 4> a, std::uint16_t port) noexcept;
  static Endpoint loopback_v4(std::uint16_t port) noexcept { return v4({127, 0, 0, 1}, port); }

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Accepts "1.2.3.4:1883", "[::1]:1883", "[::]:0", "*:1883" / ":1883" (IPv4
// any) and "localhost:1883" (127.0.0.1). Port 0 asks for an ephemeral port.
// Host names are not resolved: a listener binds numeric addresses.
Expected<Endpoint, std::string> parse_endpoint(std::string_view host_port);

}  // namespace roadmq::net
