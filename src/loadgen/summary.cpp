#include "loadgen/summary.hpp"

#include <cinttypes>
#include <cstdio>

#include "base/version.hpp"
#include "loadgen/json.hpp"

namespace roadmq::loadgen {
namespace {

std::string count_text(std::uint64_t n, const char* what) { return std::to_string(n) + " " + what; }

void latency_object(JsonWriter& j, std::string_view key, const LatencyHistogram& h) {
  j.begin_object(key);
  j.value("count", h.count());
  if (h.empty()) {
    j.end_object();
    return;
  }
  auto us = [](double ns) { return ns / 1000.0; };
  j.value("min", us(static_cast<double>(h.min())));
  j.value("mean", us(h.mean()));
  j.value("p50", us(static_cast<double>(h.percentile(50))));
  j.value("p90", us(static_cast<double>(h.percentile(90))));
  j.value("p99", us(static_cast<double>(h.percentile(99))));
  j.value("p999", us(static_cast<double>(h.percentile(99.9))));
  j.value("max", us(static_cast<double>(h.max())));
  j.end_object();
}

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

bool receives(Command c) { return c == Command::sub || c == Command::fleet; }
bool publishes(Command c) { return c == Command::pub || c == Command::fleet; }

}  // namespace

Verdict judge(const RunPlan& plan, const RunTotals& t) {
  const Options& o = plan.options;
  Verdict v;
  const std::uint64_t conn_problems =
      t.c.connect_failures + t.c.connections_lost + t.c.subscribe_failures;
  if (conn_problems > o.max_connect_failures) {
    v.failures.push_back(
        std::to_string(conn_problems) + " connection failures (" +
        std::to_string(t.c.connect_failures) + " failed, " + std::to_string(t.c.connections_lost) +
        " lost, " + std::to_string(t.c.subscribe_failures) + " refused subscriptions); limit " +
        std::to_string(o.max_connect_failures));
  }
  if (publishes(o.command) || (o.command == Command::fleet && o.fleet.downlink_rate > 0)) {
    if (t.c.rejected > 0)
      v.failures.push_back(count_text(t.c.rejected, "publishes refused by the broker"));
    if (t.inflight_at_end > 0)
      v.failures.push_back(
          count_text(t.inflight_at_end, "QoS >= 1 publishes unacknowledged at the end"));
    if (t.c.dropped_inflight > 0)
      v.failures.push_back(
          count_text(t.c.dropped_inflight, "unacknowledged publishes lost with a session"));
  }
  if (receives(o.command)) {
    if (!o.allow_loss && t.streams.lost_reliable > 0)
      v.failures.push_back(
          count_text(t.streams.lost_reliable, "messages lost in QoS >= 1 streams"));
    if (t.streams.duplicates_qos2 > 0)
      v.failures.push_back(count_text(t.streams.duplicates_qos2, "duplicates in QoS 2 streams"));
  }
  if (o.command == Command::sub && o.count > 0 && t.c.received < o.count)
    v.failures.push_back("received " + std::to_string(t.c.received) + " of the " +
                         std::to_string(o.count) + " messages asked for with --count");
  if (o.command == Command::fleet && !o.allow_loss && t.downlinks_missing > 0)
    v.failures.push_back(
        count_text(t.downlinks_missing, "downlink commands never reached their vehicle"));
  return v;
}

std::string summary_json(const RunPlan& plan, const RunTotals& t, const Verdict& v) {
  const Options& o = plan.options;
  JsonWriter j;
  j.begin_object();
  j.value("tool", "roadmq-bench");
  j.value("version", kVersion);
  j.value("command", to_string(o.command));
  char run_id[32];
  std::snprintf(run_id, sizeof run_id, "%016" PRIx64, plan.run_id);
  j.value("run_id", run_id);
  j.value("interrupted", t.interrupted);

  j.begin_object("config");
  j.value("host", o.host);
  j.value("port", static_cast<std::uint64_t>(o.port));
  j.value("protocol", o.version == mqtt::ProtocolVersion::v5 ? "5" : "3.1.1");
  j.value("clients", static_cast<std::uint64_t>(o.clients));
  j.value("threads", static_cast<std::uint64_t>(o.threads));
  j.value("conn_rate", o.conn_rate);
  if (o.duration)
    j.value("duration_s", static_cast<double>(o.duration->count()) / 1000.0);
  else
    j.null("duration_s");
  j.value("source_addresses", static_cast<std::uint64_t>(o.ifaddrs.size()));
  if (o.command != Command::conn) {
    j.value("qos", static_cast<std::uint64_t>(o.qos));
    j.begin_array("topics");
    if (o.command == Command::fleet) {
      j.element(o.fleet.uplink_topic);
      j.element(o.fleet.downlink_topic);
    } else {
      for (const auto& tp : o.topics) j.element(tp);
    }
    j.end_array();
  }
  if (publishes(o.command)) {
    j.value("payload_size", static_cast<std::uint64_t>(o.payload_size));
    j.value("inflight", static_cast<std::uint64_t>(o.inflight));
  }
  if (o.command == Command::pub) {
    j.value("rate", o.rate);
    j.value("count", o.count);
  }
  if (o.command == Command::sub) j.value("count", o.count);
  if (o.command == Command::fleet) {
    j.value("interval_ms", static_cast<std::uint64_t>(o.interval.count()));
    j.value("idle_ratio", o.fleet.idle_ratio);
    j.value("disconnect_rate", o.fleet.disconnect_rate);
    j.value("downlink_rate", o.fleet.downlink_rate);
    j.value("session_expiry_s", static_cast<std::uint64_t>(plan.session.session_expiry));
  }
  j.end_object();

  j.begin_object("elapsed");
  j.value("connect_s", t.connect_seconds);
  j.value("run_s", t.run_seconds);
  j.value("total_s", t.total_seconds);
  j.end_object();

  j.begin_object("connections");
  j.value("target", static_cast<std::uint64_t>(plan.clients.size()));
  j.value("attempts", t.c.connect_attempts);
  j.value("established", t.c.connects);
  j.value("failed", t.c.connect_failures);
  j.value("lost", t.c.connections_lost);
  j.value("refused_subscriptions", t.c.subscribe_failures);
  j.value("open_at_end_of_run", t.open_at_end);
  j.value("sessions_present", t.c.sessions_present);
  if (o.command == Command::fleet) {
    j.value("dropped", t.c.drops);
    j.value("reconnects", t.c.reconnects);
    j.value("sessions_lost", t.c.sessions_lost);
  }
  latency_object(j, "connect_latency_us", t.connect_latency);
  j.begin_object("errors");
  for (const auto& [why, n] : t.errors) j.value(why, n);
  j.end_object();
  j.end_object();

  if (publishes(o.command)) {
    j.begin_object("publish");
    j.value("sent", t.c.published);
    j.value("rate_per_s", per_second(t.c.published, t.run_seconds));
    j.value("acked", t.c.acked - (o.command == Command::fleet ? t.c.downlinks_acked : 0));
    j.value("rejected", t.c.rejected);
    j.value("unacked", t.inflight_at_end);
    j.value("retransmitted", t.c.retransmitted);
    j.value("dropped_inflight", t.c.dropped_inflight);
    j.value("skipped", t.c.skipped);
    latency_object(j, "ack_latency_us", t.ack_latency);
    j.end_object();
  }

  if (receives(o.command)) {
    const double window = t.last_receive_ns > t.first_receive_ns
                              ? static_cast<double>(t.last_receive_ns - t.first_receive_ns) / 1e9
                              : 0.0;
    j.begin_object("receive");
    j.value("received", t.c.received);
    j.value("rate_per_s", per_second(t.c.received, window));
    j.value("unique", t.streams.unique);
    j.value("expected", t.streams.expected);
    j.value("lost", t.streams.lost);
    j.value("lost_reliable", t.streams.lost_reliable);
    j.value("duplicates", t.streams.duplicates);
    j.value("reordered", t.streams.reordered);
    j.value("late", t.streams.late);
    j.value("streams", t.streams.streams);
    j.value("streams_without_final", t.streams.without_final);
    j.value("foreign", t.c.foreign);
    j.value("clock_errors", t.c.clock_errors);
    latency_object(j, "latency_us", t.latency);
    j.end_object();
  }

  if (o.command == Command::fleet) {
    j.begin_object("downlink");
    j.value("sent", t.c.downlinks_sent);
    j.value("acked", t.c.downlinks_acked);
    j.value("received", t.c.downlinks_received);
    j.value("missing", t.downlinks_missing);
    j.value("duplicates", t.downlinks_duplicates);
    latency_object(j, "latency_us", t.downlink_latency);
    j.end_object();
  }

  j.begin_object("checks");
  j.value("passed", v.failures.empty());
  j.begin_array("failures");
  for (const auto& f : v.failures) j.element(f);
  j.end_array();
  j.end_object();
  j.value("exit_code", static_cast<std::uint64_t>(v.exit_code()));
  j.end_object();
  return j.str();
}

}  // namespace roadmq::loadgen
