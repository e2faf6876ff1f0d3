// Durations, sizes and percentages as EMQX writes them.
#include "config/units.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace roadmq::config {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, SingleUnits) {
  EXPECT_EQ(parse_duration("500ms"), Duration(500));
  EXPECT_EQ(parse_duration("30s"), Duration(30s));
  EXPECT_EQ(parse_duration("5m"), Duration(5min));
  EXPECT_EQ(parse_duration("2h"), Duration(2h));
  EXPECT_EQ(parse_duration("1d"), Duration(24h));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(DurationTest, UnitsAreCaseInsensitive) {
  EXPECT_EQ(parse_duration("30S"), Duration(30s));
  EXPECT_EQ(parse_duration("10MS"), Duration(10));
  EXPECT_EQ(parse_duration("1H"), Duration(1h));
}

TEST(DurationTest, Sums) {
  EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
  EXPECT_EQ(parse_duration("1d2h3m4s5ms"), Duration(24h + 2h + 3min + 4s + 5ms));
}

TEST(DurationTest, Rejects) {
  for (const char* bad :
       {"", "30", "s", "30x", "-5s", "1.5s", " 30s", "30s ", "30 s", "1h30", "ms", "30sec", "1w"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(DurationTest, Overflow) {
  EXPECT_FALSE(parse_duration("99999999999999999999ms").has_value());
  EXPECT_FALSE(parse_duration("9223372036854775807d").has_value());
  EXPECT_EQ(parse_duration("9223372036854775807ms"), Duration(9223372036854775807));
  EXPECT_FALSE(parse_duration("9223372036854775807ms1ms").has_value());
}

TEST(DurationTest, Format) {
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  EXPECT_EQ(format_duration(Duration(2h)), "2h");
  EXPECT_EQ(format_duration(Duration(24h)), "1d");
  EXPECT_EQ(format_duration(Duration(90s)), "90s");
  EXPECT_EQ(format_duration(Duration(1500)), "1500ms");
  EXPECT_EQ(format_duration(Duration(65535s)), "65535s");
}

TEST(SizeTest, Units) {
  EXPECT_EQ(parse_size("512"), ByteSize{512});
  EXPECT_EQ(parse_size("512B"), ByteSize{512});
  EXPECT_EQ(parse_size("64KB"), ByteSize{64 * 1024});
  EXPECT_EQ(parse_size("1MB"), ByteSize{1024 * 1024});
  EXPECT_EQ(parse_size("2GB"), ByteSize{2ull * 1024 * 1024 * 1024});
  EXPECT_EQ(parse_size("1TB"), ByteSize{1ull << 40});
  EXPECT_EQ(parse_size("64kb"), ByteSize{64 * 1024});
  EXPECT_EQ(parse_size("1Mb"), ByteSize{1024 * 1024});
  EXPECT_EQ(kilobytes(64), ByteSize{65536});
  EXPECT_EQ(megabytes(1), ByteSize{1048576});
}

TEST(SizeTest, Rejects) {
  for (const char* bad : {"", "KB", "1K", "1M", "-1KB", "1.5MB", "1 MB", "1MiB", "1PB", "x"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_size("99999999999TB").has_value());
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
}

TEST(SizeTest, Format) {
  EXPECT_EQ(format_size(ByteSize{0}), "0B");
  EXPECT_EQ(format_size(ByteSize{1000}), "1000B");
  EXPECT_EQ(format_size(ByteSize{1024}), "1KB");
  EXPECT_EQ(format_size(megabytes(256)), "256MB");
  EXPECT_EQ(format_size(ByteSize{1536}), "1536B");
}

TEST(PercentTest, ParsesToRatio) {
  EXPECT_DOUBLE_EQ(*parse_percent("80%"), 0.8);
  EXPECT_DOUBLE_EQ(*parse_percent("12.5%"), 0.125);
  EXPECT_DOUBLE_EQ(*parse_percent("0%"), 0.0);
  for (const char* bad : {"80", "%", "-5%", "1e2%", "inf%", ".5%", "5.%", "1.2.3%", "80 %"}) {
    EXPECT_FALSE(parse_percent(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace roadmq::config
