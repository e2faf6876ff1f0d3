// roadmq: the broker daemon. The composition root: config → node → server,
// signals, and the staged stop. No business logic lives here.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "app/node_options.hpp"
#include "base/log.hpp"
#include "base/version.hpp"
#include "config/settings.hpp"
#include "server/server.hpp"

extern char** environ;

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: roadmq [--config FILE] [--check-config] [--version]\n"
               "  --config FILE    configuration (default: config/roadmq.conf)\n"
               "  --check-config   validate the configuration and exit\n"
               "  --version        print the version and exit\n"
               "Any key can be overridden from the environment: ROADMQ_<PATH> with '__'\n"
               "between levels, e.g. ROADMQ_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:1883\n");
}

roadmq::log::Level log_level(roadmq::config::LogLevel l) {
  switch (l) {
    case roadmq::config::LogLevel::debug: return roadmq::log::Level::debug;
    case roadmq::config::LogLevel::info: return roadmq::log::Level::info;
    case roadmq::config::LogLevel::warning: return roadmq::log::Level::warning;
    case roadmq::config::LogLevel::error: return roadmq::log::Level::error;
  }
  return roadmq::log::Level::warning;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "config/roadmq.conf";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--version" || arg == "-V") {
      std::printf("roadmq %s\n", roadmq::kVersion);
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    }
    if (arg == "--check-config") {
      check_only = true;
    } else if ((arg == "--config" || arg == "-c") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else {
      std::fprintf(stderr, "roadmq: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }

  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  auto settings = roadmq::config::load_settings(config_path, env);
  if (!settings) {
    std::fprintf(stderr, "roadmq: invalid configuration:\n%s\n", settings.error().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("roadmq: %s is valid\n", config_path.c_str());
    return 0;
  }
  roadmq::log::set_level(log_level(settings->log.level));

  // Signals are taken synchronously by this thread; block them first so the
  // shard threads inherit the mask and never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  roadmq::server::Server server(*settings, roadmq::app::node_options(*settings));
  if (auto started = server.start(); !started) {
    std::fprintf(stderr, "roadmq: %s\n", started.error().c_str());
    return 1;
  }
  for (const auto& l : server.listeners())
    std::fprintf(stderr, "roadmq: listener %s on %s\n", l.name.c_str(), l.address.c_str());
  ROADMQ_INFO("roadmq %s started as %s with %u shards", roadmq::kVersion, settings->node.name.c_str(),
              server.shard_count());

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ROADMQ_WARN("SIGHUP: configuration reload is not supported yet; restart to apply changes");
      continue;
    }
    ROADMQ_INFO("signal %d: stopping", sig);
    break;
  }
  server.stop();
  std::fprintf(stderr, "roadmq: stopped\n");
  return 0;
}
