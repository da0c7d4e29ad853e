#pragma once
// scenario: what a load test does, as read from a JSON file (format: docs/LOADTEST.md).
//
// A scenario is a population of bots in named groups, each group with one behaviour (how
// often its bots send, to whom, how big, whether they read, go to the background or lose
// their connection), and a list of phases run one after the other (bring bots online at a
// rate, hold, take them offline, silence them, make them reconnect, wait for the inboxes to
// drain). After the last phase the run drains: see docs/LOADTEST.md.
//
// Parsing is strict: unknown fields, wrong types and out-of-range values are rejected with a
// scenario_error naming the file and the field ("smoke.json: phases[1].rate: must be a
// number >= 0"). Fields named "comment" or starting with "_" are ignored everywhere.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bots/distribution.hpp"
#include "net/codec.hpp"

namespace tidings::bots {

/// A scenario file that cannot be used; what() names the file and the field.
class scenario_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Largest text body the protocol allows (64 KiB).
constexpr std::size_t max_body_bytes = 64 * 1024;
/// Most bots one scenario may declare.
constexpr std::size_t max_bots = 200'000;

struct background_spec {
  distribution every_ms;    ///< time in the foreground before going to the background
  distribution duration_ms; ///< time spent in the background
};

struct reconnect_spec {
  distribution every_ms;   ///< time connected before the connection is lost
  distribution offline_ms; ///< time offline before reconnecting
  bool drop = true;        ///< true: the TCP connection just breaks; false: clean close
};

/// How every bot of a group behaves while online.
struct behaviour {
  /// Time between two sends; none: the bot never sends (it only receives).
  std::optional<distribution> think_ms = distribution::exponential(1000);
  /// Size of a text body in bytes (at least the bot's tag, at most 64 KiB).
  distribution message_bytes = distribution::uniform(20, 200);
  enum class peer_choice : uint8_t { uniform, zipf };
  peer_choice peer = peer_choice::uniform;
  double zipf_s = 1.0; ///< exponent when peer == zipf (contact k is chosen ~ 1/k^s)
  /// Share (0..1) of sends that are media messages (kind "image").
  double media_share = 0;
  std::size_t media_bytes = 4096; ///< size of the file each bot uploads for them
  /// Share (0..1) of received messages the bot reads, `read_delay_ms` after receiving them.
  double read_share = 0;
  distribution read_delay_ms = distribution::constant(1000);
  /// Received items are acknowledged this long after the first unacknowledged one arrived.
  double ack_delay_ms = 20;
  std::optional<background_spec> background;
  std::optional<reconnect_spec> reconnect;
  /// Unanswered sends per bot; a send due while at the limit waits for the next think time.
  std::size_t max_inflight = 32;
  /// A ping is sent after this long without any frame sent (the node closes idle sessions).
  double ping_s = 20;
};

struct group {
  std::string name;
  std::size_t bots = 0;
  /// Each bot gets this many distinct contacts (the peers it sends to).
  std::size_t contacts = 5;
  /// The group the contacts are chosen from; "all" (the default): any other bot.
  std::string contacts_in = "all";
  behaviour does;
};

struct phase {
  enum class kind : uint8_t { connect, disconnect, hold, silence, speak, reconnect, wait_drained };

  std::string name;
  kind action = kind::hold;
  std::string group = "all";        ///< the bots acted on; "all" or a group name
  std::optional<std::size_t> count; ///< connect/disconnect: how many (default: all that can)
  double rate = 0;                  ///< bots per second; 0: all at once
  double duration_s = 0;            ///< hold: how long
  /// hold: also ends when the run is told to advance (SIGUSR1 to tidings-bots), so several
  /// bots processes start their next phase together; an advance that comes before such a
  /// hold began ends it as soon as it begins.
  bool until_signal = false;
  double timeout_s = 30; ///< connect (with wait) and wait_drained: longest wait
  bool wait = true;      ///< connect: end only once the bots are online
  bool drop = false;     ///< disconnect/reconnect: break the TCP connection
  distribution offline_ms = distribution::constant(1000); ///< reconnect: time offline
};

struct scenario {
  std::string name;
  std::string description;
  uint64_t seed = 1;
  net::encoding enc = net::encoding::msgpack;
  std::string user_prefix = "bot";
  std::string password = "bot-password-1";
  /// Registrations and logins run this many at a time (argon2id is slow on the node).
  std::size_t prepare_parallel = 8;
  std::vector<group> groups;
  std::vector<phase> phases;
  /// Longest wait, after the last phase, for every sent message and receipt to arrive.
  double drain_timeout_s = 30;
  /// The drain (and wait_drained) also ends once the outstanding work has not changed for
  /// this long: the node is stuck rather than slow. 0: never.
  double drain_stall_s = 15;

  std::size_t total_bots() const;
  /// Index of the group called `name`, or -1.
  int group_index(const std::string& name) const;
};

/// Reads a scenario from a parsed JSON document; `source` names it in error messages.
scenario parse_scenario(const nlohmann::json& doc, const std::string& source);

/// Parses a scenario from the text of a file. Throws scenario_error (not JSON, invalid).
scenario parse_scenario_text(std::string_view text, const std::string& source);

/// Reads and parses a scenario file. Throws scenario_error (unreadable, not JSON, invalid).
scenario load_scenario(const std::string& path);

/// The group of every bot: bots are numbered group after group, in the file's order.
std::vector<uint32_t> group_layout(const scenario& plan);

/// Gives every bot its contacts (distinct, never itself, from its group's `contacts_in`),
/// reproducibly from the scenario's seed. `group_of` is group_layout(plan).
std::vector<std::vector<uint32_t>> assign_contacts(const scenario& plan,
                                                   const std::vector<uint32_t>& group_of);

/// The phase kind's name as written in files ("connect", "hold", ...).
const char* to_string(phase::kind k);

} // namespace tidings::bots
