// roadmq-bench: the command line. Parsing and the run itself live in the
// loadgen library; this file maps them to streams and exit codes.
#include <cstdio>
#include <string_view>
#include <vector>

#include "base/version.hpp"
#include "loadgen/options.hpp"
#include "loadgen/runner.hpp"

int main(int argc, char** argv) {
  namespace lg = roadmq::loadgen;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto cl = lg::parse_command_line(args);
  if (!cl) {
    std::fprintf(stderr, "roadmq-bench: error: %s\n(see roadmq-bench --help)\n",
                 cl.error().c_str());
    return 2;
  }
  switch (cl->action) {
    case lg::CommandLine::Action::help:
      std::fputs(lg::help_text(cl->help_for).c_str(), stdout);
      return 0;
    case lg::CommandLine::Action::version:
      std::printf("roadmq-bench %s\n", roadmq::kVersion);
      return 0;
    case lg::CommandLine::Action::run:
      break;
  }
  return lg::run(cl->options);
}
