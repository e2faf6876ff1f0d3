#include "net/endpoint.hpp"

#include <gtest/gtest.h>

namespace roadmq::net {
namespace {

TEST(NetEndpoint, ParsesTheForms) {
  auto a = parse_endpoint("127.0.0.1:1883");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, Endpoint::Family::v4);
  EXPECT_EQ(a->port, 1883);
  EXPECT_EQ(a->to_string(), "127.0.0.1:1883");

  auto b = parse_endpoint("[::1]:8883");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->family, Endpoint::Family::v6);
  EXPECT_EQ(b->to_string(), "[::1]:8883");

  auto c = parse_endpoint("[::]:0");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_unspecified());
  EXPECT_EQ(c->port, 0);

  for (const char* any : {"*:1883", ":1883", "0.0.0.0:1883"}) {
    auto d = parse_endpoint(any);
    ASSERT_TRUE(d) << any;
    EXPECT_EQ(d->family, Endpoint::Family::v4);
    EXPECT_TRUE(d->is_unspecified());
  }
  auto e = parse_endpoint("localhost:1");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, Endpoint::loopback_v4(1));
}

TEST(NetEndpoint, RejectsBadInput) {
  for (const char* bad : {"", "1883", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:12x", "::1:1883", "[::1]1883", "[::1",
                          "[zz::1]:1", "example.com:1883", "1.2.3:1"}) {
    auto r = parse_endpoint(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
}

TEST(NetEndpoint, SockaddrRoundTrip) {
  for (const char* text : {"10.1.2.3:4567", "[fe80::1:2]:9"}) {
    auto e = parse_endpoint(text);
    ASSERT_TRUE(e);
    sockaddr_storage ss;
    const socklen_t len = e->to_sockaddr(ss);
    EXPECT_EQ(Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len), *e);
  }
}

}  // namespace
}  // namespace roadmq::net
