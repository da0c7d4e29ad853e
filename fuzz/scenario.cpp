// Fuzz target `scenario`: the bytes are a tidings-bots scenario file. It is parsed as
// tidings-bots parses it; the only exception allowed out is scenario_error (the tool prints it
// and exits 2). A small accepted scenario also gets its contacts assigned, which must be
// distinct, never the bot itself, and as many as asked for where the pool allows.

#include <algorithm>
#include <string_view>

#include "bots/scenario.hpp"
#include "fuzz/targets.hpp"

namespace tidings::fuzz {

int scenario(const uint8_t* data, std::size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  bots::scenario plan;
  try {
    plan = bots::parse_scenario_text(text, "fuzz");
  } catch (const bots::scenario_error&) {
    return 0;
  }
  require(plan.total_bots() <= bots::max_bots, "at most max_bots bots");
  for (const auto& p : plan.phases)
    require(p.group == "all" || plan.group_index(p.group) >= 0, "phases name known groups");
  if (plan.total_bots() > 300)
    return 0; // assigning contacts is linear in bots x contacts; keep each run fast
  auto group_of = bots::group_layout(plan);
  require(group_of.size() == plan.total_bots(), "every bot has a group");
  auto contacts = bots::assign_contacts(plan, group_of);
  for (uint32_t bot = 0; bot < contacts.size(); ++bot) {
    auto mine = contacts[bot];
    const auto& g = plan.groups[group_of[bot]];
    require(mine.size() <= g.contacts, "no more contacts than asked for");
    require(std::find(mine.begin(), mine.end(), bot) == mine.end(), "never one's own contact");
    std::sort(mine.begin(), mine.end());
    require(std::adjacent_find(mine.begin(), mine.end()) == mine.end(), "contacts are distinct");
    for (auto c : mine)
      require(c < group_of.size() &&
                  (g.contacts_in == "all" || plan.groups[group_of[c]].name == g.contacts_in),
              "contacts come from the named group");
  }
  return 0;
}

} // namespace tidings::fuzz
