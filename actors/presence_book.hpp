#pragma once
// presence_book: the rules of "online" and "last seen", with time passed in.
//
// Pure logic (no actors, no I/O), so every rule is tested exactly with chosen times.
// A user may have several live sessions, one per device (docs/DESIGN.md, "Devices").
// online    = at least one of the user's sessions is in the foreground.
// last seen = time of the last user-initiated activity of a foreground session, on any
//             device: the app coming to the foreground (auth or `state`), `send`, `read`,
//             `ping`, `profile_set`, and the end of foreground use (going to the background or
//             the session ending). Background sessions never move it; neither does `ack`.
// Only live sessions count: events of a session after its end are ignored.
// Persistence is coalesced: a changed last seen is written at most once per `interval`
// per user, except that the end of foreground use is written at once.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tidings {

class presence_book {
public:
  struct entry {
    std::map<std::string, bool> sessions; ///< live sessions: key -> in the foreground
    bool online = false;                  ///< any of them in the foreground
    int64_t last_seen = -1;               ///< -1: never seen
    bool dirty = false;                   ///< last_seen not yet persisted
    bool urgent = false;                  ///< persist at the next flush regardless of the interval
    int64_t persisted_at = -1;            ///< -1: never persisted
  };

  /// A session started or changed state. Returns true if `online` changed.
  bool set_state(const std::string& user, const std::string& session, bool foreground, int64_t now);
  /// User-initiated activity of `session`; counts only for the current foreground session.
  void touch(const std::string& user, const std::string& session, int64_t now);
  /// `session` ended. Returns true if `online` changed.
  bool end(const std::string& user, const std::string& session, int64_t now);

  /// Seeds a user's last seen read from storage (keeps a newer in-memory value).
  void load(const std::string& user, int64_t last_seen);
  const entry* find(const std::string& user) const;
  bool known(const std::string& user) const { return entries_.count(user) > 0; }

  /// Users whose last seen is due to be persisted at `now`; marks them persisted.
  std::vector<std::pair<std::string, int64_t>> due(int64_t now, int64_t interval, bool all = false);
  /// Forgets users with no session and nothing to persist (their value is in storage).
  void evict_idle();
  std::size_t size() const { return entries_.size(); }

private:
  void seen(entry& e, int64_t now, bool urgent);
  std::unordered_map<std::string, entry> entries_;
};

} // namespace tidings
