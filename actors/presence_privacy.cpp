#include "actors/presence_privacy.hpp"

namespace tidings {

bool may_see_presence(const std::string& viewer, const std::string& target,
                      const presence_facts& facts, const std::string& viewer_setting) {
  if (!facts.exists)
    return false;
  if (viewer == target)
    return true;
  if (facts.blocked_viewer)
    return false;
  if (viewer_setting == "nobody")
    return false; // reciprocity
  if (facts.last_seen == "everyone")
    return true;
  if (facts.last_seen == "contacts")
    return facts.viewer_is_contact;
  return false;
}

} // namespace tidings
