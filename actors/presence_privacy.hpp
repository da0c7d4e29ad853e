#pragma once
// presence_privacy: who may see a user's presence and last seen (PROTOCOL.md section 7).
//
// Pure logic (no actors, no I/O): a decision over facts that their owners report, so every
// rule is tested with chosen inputs. The facts come from two owners, which in a cluster may
// live on two nodes: the target's profile shard (`presence_facts`, asked with
// `atom::seen_by`) and the viewer's profile shard (the viewer's own setting, asked with
// `atom::privacy`, for the reciprocity rule).

#include <string>

namespace tidings {

/// What the target's profile shard reports about the target and one viewer.
struct presence_facts {
  bool exists = false;                ///< the target is a user
  std::string last_seen = "everyone"; ///< the target's setting: everyone | contacts | nobody
  bool viewer_is_contact = false;     ///< the viewer is in the target's contacts
  bool blocked_viewer = false;        ///< the target has blocked the viewer
};

/// May `viewer` see `target`'s presence and last seen? `viewer_setting` is the viewer's own
/// last-seen setting: who hides their own sees nobody's. A user always sees themself; nobody
/// sees a user that does not exist.
bool may_see_presence(const std::string& viewer, const std::string& target,
                      const presence_facts& facts, const std::string& viewer_setting);

} // namespace tidings
