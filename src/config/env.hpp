// EMQX-style environment overrides:
//   ROADMQ_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:18830
//   ROADMQ_NODE__DATA_DIR=/tmp/x
// A variable is an override when its name starts with the prefix and
// contains `__`, which separates levels; segments are lower-cased. (Other
// ROADMQ_* variables, e.g. for a launcher script, are left alone.)
//
// Values that start with `{`, `[` or `"` are parsed as HOCON; anything else
// is taken literally (so '#', '//' and spaces survive) and read as true/false/
// on/off, null, or a number when it is exactly one, else as a string. The
// schema then converts it like any file value. `null` resets a key to its
// default. Deeper paths apply after shallower ones.
//
// Thread safety: a pure function of its inputs. The caller passes the
// environment (the app passes `environ`) so tests need no global state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "config/error.hpp"
#include "config/schema.hpp"
#include "config/value.hpp"

namespace roadmq::config {

inline constexpr std::string_view kEnvPrefix = "ROADMQ_";

// Merges every override in `env` ("NAME=value" strings) into `root` (an
// object). An override of a key the schema does not know, or a value that
// does not parse, is an error naming the variable.
Expected<void, Errors> apply_env_overrides(Value& root, const std::vector<std::string>& env,
                                           const Schema& schema,
                                           std::string_view prefix = kEnvPrefix);

// ["A=1", ...] from a NULL-terminated `environ`-style array.
std::vector<std::string> environment_from(const char* const* envp);

}  // namespace roadmq::config
