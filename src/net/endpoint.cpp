#include "net/endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace roadmq::net {

bool Endpoint::is_unspecified() const noexcept {
  const std::size_t n = family == Family::v4 ? 4 : 16;
  for (std::size_t i = 0; i < n; ++i)
    if (address[i] != 0) return false;
  return true;
}

std::string Endpoint::address_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == Family::v4) {
    ::inet_ntop(AF_INET, address.data(), buf, sizeof buf);
  } else if (family == Family::v6) {
    ::inet_ntop(AF_INET6, address.data(), buf, sizeof buf);
  }
  return buf;
}

std::string Endpoint::to_string() const {
  if (family == Family::none) return {};
  std::string s;
  s.reserve(48);
  if (family == Family::v6) s += '[';
  s += address_string();
  if (family == Family::v6) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

socklen_t Endpoint::to_sockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof out);
  if (family == Family::v4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, address.data(), 4);
    return sizeof(sockaddr_in);
  }
  if (family == Family::v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, address.data(), 16);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

Endpoint Endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  Endpoint e;
  if (sa == nullptr) return e;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    e.family = Family::v4;
    e.port = ntohs(sin->sin_port);
    std::memcpy(e.address.data(), &sin->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    e.family = Family::v6;
    e.port = ntohs(sin6->sin6_port);
    std::memcpy(e.address.data(), &sin6->sin6_addr, 16);
  }
  return e;
}

Endpoint Endpoint::v4(std::array<std::uint8_t, 4> a, std::uint16_t port) noexcept {
  Endpoint e;
  e.family = Family::v4;
  e.port = port;
  std::memcpy(e.address.data(), a.data(), 4);
  return e;
}

Expected<Endpoint, std::string> parse_endpoint(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Unexpected{std::string("expected \"[ipv6]:port\", got \"") + std::string(text) + "\""};
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return Unexpected{std::string("expected \"host:port\", got \"") + std::string(text) + "\""};
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return Unexpected{std::string("IPv6 address needs brackets: \"[") + std::string(host) +
                        "]:port\""};
  }

  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535)
    return Unexpected{std::string("invalid port \"") + std::string(port_text) + "\""};

  Endpoint e;
  e.port = static_cast<std::uint16_t>(port);
  const bool bracketed = !text.empty() && text.front() == '[';
  if (!bracketed && (host.empty() || host == "*")) {
    e.family = Endpoint::Family::v4;  // all zeros: INADDR_ANY
    return e;
  }
  if (!bracketed && host == "localhost") return Endpoint::loopback_v4(e.port);

  const std::string host_z(host);  // inet_pton wants a NUL-terminated string
  if (bracketed) {
    if (::inet_pton(AF_INET6, host_z.c_str(), e.address.data()) != 1)
      return Unexpected{std::string("invalid IPv6 address \"") + host_z + "\""};
    e.family = Endpoint::Family::v6;
  } else {
    if (::inet_pton(AF_INET, host_z.c_str(), e.address.data()) != 1)
      return Unexpected{std::string("invalid IPv4 address \"") + host_z +
                        "\" (host names are not resolved)"};
    e.family = Endpoint::Family::v4;
  }
  return e;
}

}  // namespace roadmq::net
