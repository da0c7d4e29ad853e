#pragma once
// directory actor: one per node. Maps users to their inbox actors.
//
// Owns: the user -> inbox map. Spawns an inbox on the first message for a user who has an
// account (unknown users get `not_found`), and forwards (delegates) messages to it, so the
// reply goes straight back to the requester.
// Invariant: at most one inbox actor per user. An idle inbox asks to stop, telling how many
// routed messages it has handled; the directory agrees only if that equals what it routed,
// so nothing routed can be in flight when the inbox goes away.
// May block: one RocksDB point read (account exists) when spawning an inbox.

#include <map>
#include <string>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"

namespace tidings {

struct directory_state {
  static inline const char* name = "directory";

  struct entry {
    inbox_service inbox;
    uint64_t routed = 0;
    bool drained = false; ///< at shutdown: no ack of its own is running any more
  };

  directory_actor_t::pointer self = nullptr;
  const node_context* ctx = nullptr;
  std::unordered_map<std::string, entry> inboxes;
  std::map<caf::actor_addr, std::string> users_by_inbox; ///< reverse index for down messages
  bool stopping = false;  ///< shutting down: inboxes finish their acks, then all quit
  bool releasing = false; ///< every inbox drained: they have been told to quit
  caf::error stop_reason;
  uint64_t handled = 0; ///< messages handled (spawn_counted)
  /// Inboxes told to stop by `evict`, and who waits for each to be gone.
  std::map<caf::actor_addr, std::vector<caf::typed_response_promise<bool>>> evicting;

  /// The entry of `user`, spawning the inbox if needed; nullptr (and why: `not_found` for
  /// unknown users, `unavailable` when storage fails or the node is stopping) otherwise.
  entry* find_or_spawn(const std::string& user, errc* why);
  /// Forwards a request to `user`'s inbox; the inbox's reply goes to the requester.
  template <class... Rs, class... Ts>
  caf::result<Rs...> route(const std::string& user, Ts&&... xs) {
    errc why = errc::not_found;
    auto* e = find_or_spawn(user, &why);
    if (e == nullptr)
      return make_error(why);
    ++e->routed;
    self->delegate(e->inbox, std::forward<Ts>(xs)...);
    if (stopping && !e->drained)
      self->send(e->inbox, atom::drain::value); // a new inbox reports once it handled this
    return caf::delegated<Rs...>{};
  }
  void on_idle(const std::string& user, uint64_t handled);
  void on_down(const caf::down_msg& dm);
  /// Asks every inbox to drain (finish its running ack, whose receipts may need other
  /// inboxes), then, once all have drained, to quit; quits when all are gone.
  void shutdown(const caf::error& reason);
  void on_drained(const std::string& user);
  /// The inspector asks about `user`: the running inbox answers (delegated), else what
  /// storage holds (no inbox is started for it).
  caf::result<inbox_facts> probe_user(const std::string& user);
  std::vector<caf::actor> running_inboxes() const;
  /// The administrator deletes `user` (whose account is already gone): the running inbox is
  /// told to stop at once, whatever is still on its way to it (those requests fail), and the
  /// answer comes once it is gone (its writes in flight done), so nothing of it is written
  /// after. True at once when no inbox runs.
  caf::result<bool> evict(const std::string& user);
};

/// What storage holds of `user`'s inbox (depth, oldest item's time) with no actor running.
inbox_facts stored_inbox_facts(storage::db& store, const std::string& user, bool* failed);
/// The server time (`ts`) of a stored inbox item, or -1.
int64_t item_time(std::string_view item);

directory_actor_t::behavior_type
directory_actor(directory_actor_t::stateful_pointer<directory_state> self, const node_context* ctx);

} // namespace tidings
