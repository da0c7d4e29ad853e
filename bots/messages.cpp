#include "bots/messages.hpp"

namespace tidings::bots {

void register_bot_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::tidings_bots>();
}

} // namespace tidings::bots
