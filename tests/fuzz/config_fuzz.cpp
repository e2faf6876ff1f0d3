// libFuzzer target for the configuration parser and everything behind it.
//
// Properties checked beyond "no crash, no sanitizer report":
//  * every parse error carries a position inside the input;
//  * a parsed tree dumped with to_hocon() parses back to an equivalent tree;
//  * schema validation, typed settings and the reload diff never crash on
//    whatever tree the parser accepts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/parser.hpp"
#include "config/settings.hpp"
#include "config/value.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace roadmq::config;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto tree = parse(text, "fuzz.conf");
  if (!tree) {
    const Error& e = tree.error();
    std::size_t lines = 1;
    for (char c : text) lines += c == '\n';
    if (e.where.line == 0 || e.where.line > lines || e.where.col == 0 || e.message.empty()) {
      __builtin_trap();
    }
    return 0;
  }

  std::string dumped = to_hocon(*tree);
  auto again = parse(dumped, "dump.conf");
  if (!again || !equivalent(*tree, *again)) __builtin_trap();

  auto settings = settings_from_tree(std::move(*tree), {});
  if (settings) {
    static const Settings kDefaults = default_settings();
    (void)diff(kDefaults, *settings);
  } else {
    (void)join(settings.error());
  }
  return 0;
}
