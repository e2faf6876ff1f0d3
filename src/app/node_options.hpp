// Maps the validated config snapshot onto what the broker and the server
// take. Kept apart from main() so it is unit-testable.
#pragma once

#include "broker/node.hpp"
#include "config/settings.hpp"

namespace roadmq::app {

broker::NodeOptions node_options(const config::Settings& settings);

}  // namespace roadmq::app
