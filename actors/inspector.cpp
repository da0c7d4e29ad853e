#include "actors/inspector.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <sodium.h>

#include "actors/directory.hpp"
#include "actors/handoff.hpp"
#include "actors/steward.hpp"
#include "cluster/placement.hpp"
#include "net/codec.hpp"

namespace tidings {

using net::json;

namespace {

/// Runs `done` once every expected answer has arrived (answered or failed). Starts expecting
/// one arrival, the set-up's own, so answers arriving while requests are still being sent
/// cannot finish it early.
class fan_in {
public:
  explicit fan_in(std::function<void()> done) : done_(std::move(done)) {}
  void expect() { ++left_; }
  void arrived() {
    if (--left_ == 0 && done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done();
    }
  }

private:
  std::size_t left_ = 1;
  std::function<void()> done_;
};

/// Keeps, of `all`, the `top` largest by `key` and the `top` largest by `other` (each once).
template <class Key, class Other>
std::vector<actor_probe> busiest(std::vector<actor_probe> all, std::size_t top, Key key,
                                 Other other) {
  std::vector<actor_probe> out;
  for (auto by : {0, 1}) {
    auto n = std::min(top, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                      [&](const actor_probe& a, const actor_probe& b) {
                        return by == 0 ? key(a) > key(b) : other(a) > other(b);
                      });
    for (std::size_t i = 0; i < n; ++i)
      if (std::none_of(out.begin(), out.end(),
                       [&](const actor_probe& p) { return p.name == all[i].name; }))
        out.push_back(all[i]);
  }
  return out;
}

json to_json(const actor_probe& p) {
  return {{"kind", p.kind}, {"name", p.name}, {"mailbox", p.mailbox}, {"handled", p.handled}};
}

json to_json(const node_report& r) {
  json kinds = json::object();
  for (std::size_t i = 0; i < r.kinds.size() && i < r.kind_counts.size(); ++i)
    kinds[r.kinds[i]] = r.kind_counts[i];
  json probes = json::array();
  for (const auto& p : r.probes)
    probes.push_back(to_json(p));
  return {{"node", r.node},
          {"version", r.version},
          {"started_ms", r.started_ms},
          {"now_ms", r.now_ms},
          {"uptime_s", (r.now_ms - r.started_ms) / 1000},
          {"connections", r.connections},
          {"sessions", r.sessions},
          {"inboxes", r.inboxes},
          {"actors", r.actors},
          {"stored", r.stored},
          {"pushed", r.pushed},
          {"acked", r.acked},
          {"stored_per_s", r.stored_per_s},
          {"pushed_per_s", r.pushed_per_s},
          {"send_p50_ms", r.send_p50_ms},
          {"send_p99_ms", r.send_p99_ms},
          {"inbox_items", r.inbox_items},
          {"inboxes_pending", r.inboxes_pending},
          {"census_ms", r.census_ms},
          {"handoff_queued", r.handoff_queued},
          {"kinds", kinds},
          {"probes", probes}};
}

json to_json(const user_report& r) {
  const auto& in = r.inbox;
  return {{"user", r.user},
          {"home", r.home},
          {"exists", r.exists},
          {"inbox",
           {{"running", in.running},
            {"depth", in.depth},
            {"oldest_ts", in.oldest_ts},
            {"attached", in.attached},
            {"unacked", in.unacked}}},
          {"session", r.session},
          {"session_node", r.session_node},
          {"foreground", r.foreground},
          {"last_seen", r.last_seen},
          {"contacts", r.contacts},
          {"blocked", r.blocked},
          {"notes", r.notes}};
}

std::string describe(caf::actor_system& sys, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return "no answer in time";
  return sys.render(err);
}

} // namespace

// -- inspector ----------------------------------------------------------------------------------

void inspector_state::init(inspector_actor_t::pointer s, const node_context* c,
                           inspector_options o) {
  self = s;
  ctx = c;
  opts = std::move(o);
  // Its commands block on RocksDB (and a backup copies the database): a thread of its own.
  steward = self->spawn<caf::linked + caf::detached>(steward_actor, ctx);
}

void inspector_state::tick() {
  const auto& m = *ctx->metrics;
  samples.push_back(
      {ctx->now(), m.messages_stored.load(), m.items_pushed.load(), m.send_latency.read()});
  while (samples.size() > 11)
    samples.pop_front();
  auto every = opts.census_interval.count();
  auto now = ctx->now();
  if (every > 0 && !census_running && (!census || now - census->taken_ms >= every))
    start_census();
}

node_report inspector_state::basics() const {
  const auto& m = *ctx->metrics;
  node_report r;
  r.node = ctx->self_name();
  r.version = opts.version;
  r.started_ms = ctx->started_ms;
  r.now_ms = ctx->now();
  r.connections = static_cast<uint64_t>(std::max<int64_t>(0, m.sessions_live.load()));
  r.sessions = static_cast<uint64_t>(std::max<int64_t>(0, m.sessions_authenticated.load()));
  r.inboxes = static_cast<uint64_t>(std::max<int64_t>(0, m.inboxes_live.load()));
  r.actors = self->system().registry().running();
  r.stored = m.messages_stored.load();
  r.pushed = m.items_pushed.load();
  r.acked = m.items_acked.load();
  if (!samples.empty()) {
    auto window = m.send_latency.read().since(samples.front().send);
    r.send_p50_ms = window.quantile_ms(0.5);
    r.send_p99_ms = window.quantile_ms(0.99);
  }
  if (samples.size() >= 2) {
    const auto& a = samples[samples.size() - 2];
    const auto& b = samples.back();
    auto secs = static_cast<double>(std::max<int64_t>(1, b.at_ms - a.at_ms)) / 1000.0;
    r.stored_per_s = static_cast<double>(b.stored - a.stored) / secs;
    r.pushed_per_s = static_cast<double>(b.pushed - a.pushed) / secs;
  }
  if (census) {
    r.inbox_items = census->items;
    r.inboxes_pending = census->inboxes;
    r.census_ms = census->taken_ms;
  }
  r.handoff_queued = m.handoff_queued.load();
  auto kind = [&r](const char* name, uint64_t n) {
    r.kinds.emplace_back(name);
    r.kind_counts.push_back(n);
  };
  kind("session", r.connections);
  kind("inbox", r.inboxes);
  kind("directory", 1);
  kind("profile", ctx->profiles.size());
  kind("lastseen", ctx->lastseen.size());
  kind("accounts", ctx->accounts.size());
  kind("registry", 1);
  kind("media", 1);
  kind("handoff", ctx->handoff ? 1 : 0);
  kind("gate", 1);
  kind("inspector", 1);
  return r;
}

caf::result<node_report> inspector_state::report(uint32_t top) {
  struct gathered {
    node_report report;
    std::vector<actor_probe> inboxes;
  };
  auto acc = std::make_shared<gathered>();
  acc->report = basics();
  auto rp = self->make_response_promise<node_report>();
  auto fan = std::make_shared<fan_in>([acc, rp, top]() mutable {
    auto keep = busiest(
        std::move(acc->inboxes), top, [](const actor_probe& p) { return p.mailbox; },
        [](const actor_probe& p) { return p.handled; });
    auto& probes = acc->report.probes;
    probes.insert(probes.end(), keep.begin(), keep.end());
    rp.deliver(std::move(acc->report));
  });
  auto timeout = caf::duration{opts.probe_timeout};
  auto ask = [this, acc, fan, timeout](const auto& handle, std::string name, bool inbox) {
    if (!handle)
      return;
    fan->expect();
    self->request<caf::message_priority::high>(handle, timeout, atom::probe::value)
        .then(
            [acc, fan, name, inbox](const actor_probe& p) {
              auto copy = p;
              if (copy.name.empty())
                copy.name = name;
              (inbox ? acc->inboxes : acc->report.probes).push_back(std::move(copy));
              fan->arrived();
            },
            [fan](const caf::error&) { fan->arrived(); });
  };
  auto directory = caf::actor_cast<directory_actor_t>(ctx->directory);
  if (top > 0) {
    // Every running inbox: as many requests as inboxes, so only when asked for.
    fan->expect();
    self->request<caf::message_priority::high>(directory, timeout, atom::probe::value,
                                               atom::list::value)
        .then(
            [ask, fan](const std::vector<caf::actor>& inboxes) {
              for (const auto& inbox : inboxes)
                ask(caf::actor_cast<inbox_service>(inbox), "", true);
              fan->arrived();
            },
            [fan](const caf::error&) { fan->arrived(); });
  }
  // After the list request: the directory answers that first, so its mailbox length is what
  // else waits there.
  ask(directory, "", false);
  for (std::size_t i = 0; i < ctx->profiles.size(); ++i)
    ask(caf::actor_cast<profile_shard>(ctx->profiles[i]), std::to_string(i), false);
  for (std::size_t i = 0; i < ctx->lastseen.size(); ++i)
    ask(caf::actor_cast<lastseen_shard>(ctx->lastseen[i]), std::to_string(i), false);
  ask(ctx->media, "", false);
  ask(caf::actor_cast<handoff_service>(ctx->handoff), "", false);
  fan->arrived();
  return rp;
}

caf::result<user_report> inspector_state::report_user(const std::string& user) {
  auto r = std::make_shared<user_report>();
  r->user = user;
  r->home = ctx->self_name();
  auto rp = self->make_response_promise<user_report>();
  auto fan = std::make_shared<fan_in>([r, rp]() mutable { rp.deliver(std::move(*r)); });
  auto timeout = caf::duration{opts.probe_timeout};
  auto failed = [this, r, fan](const char* what) {
    return [this, r, fan, what](const caf::error& err) {
      r->notes.push_back(std::string{what} + ": " + describe(self->system(), err));
      fan->arrived();
    };
  };
  fan->expect();
  self->request(ctx->registry, timeout, atom::exists::value, user)
      .then(
          [r, fan](bool exists) {
            r->exists = exists;
            fan->arrived();
          },
          failed("accounts"));
  fan->expect();
  self->request<caf::message_priority::high>(caf::actor_cast<directory_actor_t>(ctx->directory),
                                             timeout, atom::probe::value, user)
      .then(
          [r, fan](const inbox_facts& facts) {
            r->inbox = facts;
            fan->arrived();
          },
          failed("inbox"));
  fan->expect();
  auto lastseen = caf::actor_cast<lastseen_shard>(ctx->shard(ctx->lastseen, user));
  self->request<caf::message_priority::high>(lastseen, timeout, atom::probe::value, user)
      .then(
          [r, fan](bool session, bool foreground, int64_t last_seen, const std::string& node) {
            r->session = session;
            r->foreground = foreground;
            r->last_seen = last_seen;
            r->session_node = node;
            fan->arrived();
          },
          failed("presence"));
  const auto& profile = ctx->shard(ctx->profiles, user);
  fan->expect();
  self->request(profile, timeout, atom::contacts::value, atom::list::value, user)
      .then(
          [r, fan](const std::vector<std::string>& users) {
            r->contacts = static_cast<int64_t>(users.size());
            fan->arrived();
          },
          failed("contacts"));
  fan->expect();
  self->request(profile, timeout, atom::blocks::value, atom::list::value, user)
      .then(
          [r, fan](const std::vector<std::string>& users) {
            r->blocked = static_cast<int64_t>(users.size());
            fan->arrived();
          },
          failed("blocks"));
  fan->arrived();
  return rp;
}

caf::result<census_report> inspector_state::report_census(uint32_t) {
  auto rp = self->make_response_promise<census_report>();
  // A census already running may have read past what was stored before this request.
  census_waiting.emplace_back(censuses_started + 1, rp);
  start_census();
  return rp;
}

void inspector_state::start_census() {
  if (census_running)
    return;
  census_running = true;
  census_started = ctx->now();
  ++censuses_started;
  auto me = caf::actor_cast<inspector_actor_t>(self);
  auto* store = ctx->store;
  auto* gauges = &ctx->metrics->census;
  auto now = ctx->now;
  auto node = ctx->self_name();
  auto keep = opts.census_keep;
  // Detached: the reads block, and take as long as there are accounts.
  self->system().spawn<caf::detached>(
      [me, store, gauges, now, node, keep](caf::event_based_actor* worker) {
        auto r = take_census(*store, keep, now, gauges);
        r.node = node;
        worker->send(me, atom::census::value, std::move(r));
      });
}

void inspector_state::on_census(census_report r) {
  census_running = false;
  auto took = ctx->now() - census_started;
  ctx->logs().debug("census of the inboxes",
                    {{"inboxes", r.inboxes}, {"items", r.items}, {"ms", took}});
  if (!r.complete)
    ctx->logs().error("storage error: the census of the inboxes ended early");
  census = std::move(r);
  auto answered = std::partition(census_waiting.begin(), census_waiting.end(),
                                 [this](const auto& w) { return w.first > censuses_started; });
  for (auto it = answered; it != census_waiting.end(); ++it)
    it->second.deliver(*census);
  census_waiting.erase(answered, census_waiting.end());
  if (!census_waiting.empty())
    start_census();
}

census_report take_census(storage::db& store, std::size_t keep, const clock_fn& now,
                          inbox_census_gauges* gauges) {
  census_report r;
  constexpr auto bounds = inbox_census_gauges::depth_bounds;
  std::array<uint64_t, bounds.size() + 1> by_depth{};
  int64_t oldest = -1;
  // A min-heap on depth: the shallowest of the kept rows on top, replaced by deeper ones.
  auto shallower = [](const inbox_row& a, const inbox_row& b) { return a.depth > b.depth; };
  std::vector<inbox_row> heap;
  // User names are ASCII (net/fields.hpp): every account key sorts below "\xff".
  auto st = store.scan(storage::table::accounts, "", std::string_view{"\xff", 1}, SIZE_MAX,
                       [&](std::string_view key, std::string_view) {
                         std::string user{key};
                         bool failed = false;
                         auto facts = stored_inbox_facts(store, user, &failed);
                         if (failed) {
                           r.complete = false;
                           return true;
                         }
                         if (facts.depth == 0)
                           return true;
                         ++r.inboxes;
                         r.items += facts.depth;
                         std::size_t b = 0;
                         while (b < bounds.size() && facts.depth > bounds[b])
                           ++b;
                         ++by_depth[b];
                         if (facts.oldest_ts >= 0 && (oldest < 0 || facts.oldest_ts < oldest))
                           oldest = facts.oldest_ts;
                         heap.push_back({std::move(user), facts.depth, facts.oldest_ts});
                         std::push_heap(heap.begin(), heap.end(), shallower);
                         if (heap.size() > keep) {
                           std::pop_heap(heap.begin(), heap.end(), shallower);
                           heap.pop_back();
                         }
                         return true;
                       });
  if (!st.ok())
    r.complete = false;
  std::sort(heap.begin(), heap.end(),
            [](const inbox_row& a, const inbox_row& b) { return a.depth > b.depth; });
  r.deepest = std::move(heap);
  r.taken_ms = now();
  if (gauges != nullptr) {
    for (std::size_t b = 0; b < by_depth.size(); ++b)
      gauges->inboxes_by_depth[b].store(by_depth[b]);
    gauges->inboxes.store(r.inboxes);
    gauges->items.store(r.items);
    gauges->oldest_age_ms.store(oldest < 0 ? -1 : r.taken_ms - oldest);
    gauges->taken_ms.store(r.taken_ms);
  }
  return r;
}

inspector_actor_t::behavior_type
inspector_actor(inspector_actor_t::stateful_pointer<inspector_state> self, const node_context* ctx,
                inspector_options opts) {
  self->state.init(self, ctx, std::move(opts));
  self->send(self, atom::timer::value);
  return {
      [self](atom::report, uint32_t top) { return self->state.report(top); },
      [self](atom::report, const std::string& user) { return self->state.report_user(user); },
      [self](atom::census, uint32_t top) { return self->state.report_census(top); },
      [self](atom::census, census_report& r) { self->state.on_census(std::move(r)); },
      [self](atom::manage m, std::string& command, std::vector<std::string>& args) {
        self->delegate(self->state.steward, m, std::move(command), std::move(args));
        return caf::delegated<std::string>{};
      },
      [self](atom::timer) {
        self->state.tick();
        self->delayed_send(self, std::chrono::seconds(1), atom::timer::value);
      },
  };
}

// -- admin --------------------------------------------------------------------------------------

std::string secret_digest(const std::string& secret) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nullptr,
                     0);
  return out;
}

bool secret_matches(const std::string& digest, const std::string& given) {
  auto theirs = secret_digest(given);
  bool same = digest.size() == theirs.size() &&
              sodium_memcmp(digest.data(), theirs.data(), digest.size()) == 0;
  return same && !given.empty();
}

namespace {

/// Every member of the cluster (this node first), or this node alone.
std::vector<cluster::member_status> members_of(const node_context& ctx) {
  if (ctx.cluster != nullptr)
    return ctx.cluster->status();
  return {{"", "", true, ctx.started_ms}};
}

std::string display_id(const std::string& id) {
  return id.empty() ? "local" : id;
}

uint32_t count_arg(const std::vector<std::string>& args, uint32_t fallback) {
  if (args.empty())
    return fallback;
  try {
    auto n = std::stoul(args.front());
    return static_cast<uint32_t>(std::min<unsigned long>(n, 1000));
  } catch (const std::exception&) {
    return fallback;
  }
}

} // namespace

inspector_api admin_state::inspector_of(const std::string& id) const {
  if (ctx->cluster == nullptr || id.empty() || id == ctx->cluster->self())
    return ctx->inspector;
  auto gate = ctx->cluster->gate(id);
  return gate ? caf::actor_cast<inspector_api>(gate) : inspector_api{};
}

template <class Fan, class Ask> void admin_state::for_each_member(json& rows, Fan& fan, Ask ask) {
  for (const auto& m : members_of(*ctx)) {
    auto id = display_id(m.id);
    rows.push_back({{"id", id}, {"up", m.up}, {"answered", false}});
    auto i = rows.size() - 1;
    auto insp = inspector_of(m.id);
    if (!insp) {
      rows[i]["error"] = "down";
      continue;
    }
    fan.expect();
    ask(insp, i, id);
  }
}

caf::result<std::string> admin_state::handle(const std::string& secret, const std::string& command,
                                             const std::vector<std::string>& args) {
  if (!secret_matches(digest, secret)) {
    ctx->logs().warn("admin: refused a request with a wrong or missing secret");
    return make_error(errc::unauthorized, "wrong or missing admin secret");
  }
  ctx->logs().info("admin request", {{"command", command}});
  if (command == "nodes" || command == "top")
    return nodes(command, 0);
  if (command == "actors")
    return nodes(command, count_arg(args, 10));
  if (command == "user") {
    if (args.size() != 1 || args.front().empty())
      return make_error(errc::bad_request, "user needs one NAME");
    return user(args.front());
  }
  if (command == "inboxes")
    return inboxes(count_arg(args, 10));
  if (command == "users")
    return users(args);
  if (command == "create" || command == "disable" || command == "enable" || command == "revoke" ||
      command == "delete") {
    if (args.empty() || args.front().empty() || args.size() > (command == "create" ? 2 : 1))
      return make_error(errc::bad_request, command + " needs one NAME");
    ctx->logs().info("admin: user administration", {{"command", command}, {"user", args[0]}});
    return manage_user(command, args);
  }
  if (command == "backup") {
    if (args.size() != 1 || args.front().empty())
      return make_error(errc::bad_request, "backup needs one DIR");
    return backup(args);
  }
  if (command == "ring")
    return ring(args);
  return make_error(errc::bad_request, "unknown command '" + command + "'");
}

caf::result<std::string> admin_state::nodes(const std::string& command, uint32_t top) {
  auto members = members_of(*ctx);
  auto rows = std::make_shared<json>(json::array());
  auto rp = self->make_response_promise<std::string>();
  json doc{{"command", command}, {"asked", display_id(ctx->self_name())}, {"now_ms", ctx->now()}};
  auto fan = std::make_shared<fan_in>([rp, rows, doc]() mutable {
    doc["nodes"] = std::move(*rows);
    rp.deliver(doc.dump());
  });
  for (const auto& m : members) {
    rows->push_back({{"id", display_id(m.id)},
                     {"address", m.address},
                     {"up", m.up},
                     {"since_ms", m.since_ms},
                     {"answered", false}});
    auto i = rows->size() - 1;
    auto insp = inspector_of(m.id);
    if (!insp) {
      (*rows)[i]["error"] = "down";
      continue;
    }
    fan->expect();
    self->request(insp, opts.node_timeout, atom::report::value, top)
        .then(
            [rows, i, fan](const node_report& r) {
              (*rows)[i]["answered"] = true;
              (*rows)[i]["report"] = to_json(r);
              fan->arrived();
            },
            [this, rows, i, fan](const caf::error& err) {
              (*rows)[i]["error"] = describe(self->system(), err);
              fan->arrived();
            });
  }
  fan->arrived();
  return rp;
}

caf::result<std::string> admin_state::user(const std::string& name) {
  auto home = ctx->cluster != nullptr ? ctx->cluster->home(name) : std::string{};
  json doc{{"command", "user"},
           {"user", name},
           {"home", display_id(home)},
           {"now_ms", ctx->now()},
           {"answered", false}};
  auto insp = inspector_of(home);
  if (!insp) {
    doc["home_up"] = false;
    doc["error"] = "the user's home node is down";
    return doc.dump();
  }
  doc["home_up"] = true;
  auto rp = self->make_response_promise<std::string>();
  auto acc = std::make_shared<json>(std::move(doc));
  auto fan = std::make_shared<fan_in>([rp, acc]() mutable { rp.deliver(acc->dump()); });
  fan->expect();
  self->request(insp, opts.node_timeout, atom::report::value, name)
      .then(
          [acc, fan](const user_report& r) {
            (*acc)["answered"] = true;
            (*acc)["report"] = to_json(r);
            (*acc)["report"]["home"] = (*acc)["home"];
            fan->arrived();
          },
          [this, acc, fan](const caf::error& err) {
            (*acc)["error"] = describe(self->system(), err);
            fan->arrived();
          });
  // The account itself (created, disabled, tokens, profile), from the home's steward.
  fan->expect();
  self->request(insp, opts.node_timeout, atom::manage::value, std::string{"account"},
                std::vector<std::string>{name})
      .then(
          [acc, fan](const std::string& text) {
            auto account = json::parse(text, nullptr, false);
            if (!account.is_discarded())
              (*acc)["account"] = std::move(account);
            fan->arrived();
          },
          [this, acc, fan](const caf::error& err) {
            (*acc)["account_error"] = describe(self->system(), err);
            fan->arrived();
          });
  fan->arrived();
  return rp;
}

caf::result<std::string> admin_state::users(const std::vector<std::string>& args) {
  auto after = args.empty() ? std::string{} : args[0];
  auto limit = args.size() > 1 ? count_arg({args[1]}, 100) : uint32_t{100};
  limit = std::max<uint32_t>(1, limit);
  struct gathered {
    std::vector<json> rows;
    json nodes = json::array();
    bool more = false;
  };
  auto acc = std::make_shared<gathered>();
  auto rp = self->make_response_promise<std::string>();
  auto fan = std::make_shared<fan_in>([rp, acc, after, limit]() mutable {
    auto& rows = acc->rows;
    std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
      return a.value("user", std::string{}) < b.value("user", std::string{});
    });
    // Each member gave its first `limit` after `after`: the first `limit` of all of them are
    // the page (a member's next names all sort after its last one given).
    bool more = acc->more || rows.size() > limit;
    if (rows.size() > limit)
      rows.resize(limit);
    json doc{{"command", "users"}, {"after", after}, {"limit", limit}, {"nodes", acc->nodes}};
    doc["users"] = json(rows);
    doc["more"] = more;
    if (more && !rows.empty())
      doc["next"] = rows.back().value("user", std::string{});
    rp.deliver(doc.dump());
  });
  for_each_member(
      acc->nodes, *fan, [&](const inspector_api& insp, std::size_t i, const std::string& id) {
        self->request(insp, opts.manage_timeout, atom::manage::value, std::string{"users"},
                      std::vector<std::string>{after, std::to_string(limit)})
            .then(
                [acc, i, id, fan](const std::string& text) {
                  auto page = json::parse(text, nullptr, false);
                  if (!page.is_discarded()) {
                    acc->nodes[i]["answered"] = true;
                    for (auto row : page["users"]) {
                      row["home"] = id;
                      acc->rows.push_back(std::move(row));
                    }
                    acc->more = acc->more || page.value("more", false);
                    if (page.contains("error"))
                      acc->nodes[i]["error"] = page["error"];
                  }
                  fan->arrived();
                },
                [this, acc, i, fan](const caf::error& err) {
                  acc->nodes[i]["error"] = describe(self->system(), err);
                  fan->arrived();
                });
      });
  fan->arrived();
  return rp;
}

caf::result<std::string> admin_state::manage_user(const std::string& command,
                                                  const std::vector<std::string>& args) {
  const auto& name = args.front();
  auto home = ctx->cluster != nullptr ? ctx->cluster->home(name) : std::string{};
  auto insp = inspector_of(home);
  if (!insp)
    return make_error(errc::unavailable,
                      "the home node of '" + name + "' (" + display_id(home) + ") is down, retry");
  auto rp = self->make_response_promise<std::string>();
  self->request(insp, opts.manage_timeout, atom::manage::value, command, args)
      .then(
          [this, rp, command, name, home](const std::string& text) mutable {
            auto doc = json::parse(text, nullptr, false);
            if (doc.is_discarded())
              doc = json::object();
            doc["home"] = display_id(home);
            if (command != "delete" || ctx->cluster == nullptr) {
              rp.deliver(doc.dump());
              return;
            }
            // The media rows naming the user that the other members keep (the blobs homed
            // there): every member that is up.
            auto acc = std::make_shared<json>(std::move(doc));
            (*acc)["members"] = json::array();
            auto fan = std::make_shared<fan_in>([rp, acc]() mutable { rp.deliver(acc->dump()); });
            for (const auto& m : members_of(*ctx)) {
              if (m.id == home)
                continue;
              auto& rows = (*acc)["members"];
              rows.push_back({{"id", display_id(m.id)}, {"up", m.up}});
              auto i = rows.size() - 1;
              auto other = inspector_of(m.id);
              if (!other) {
                rows[i]["error"] = "down: its media rows naming the user stay";
                continue;
              }
              fan->expect();
              self->request(other, opts.manage_timeout, atom::manage::value,
                            std::string{"purge-media"}, std::vector<std::string>{name})
                  .then(
                      [acc, i, fan](const std::string& text) {
                        auto done = json::parse(text, nullptr, false);
                        if (!done.is_discarded())
                          (*acc)["members"][i]["media_removed"] = done["removed"];
                        fan->arrived();
                      },
                      [this, acc, i, fan](const caf::error& err) {
                        (*acc)["members"][i]["error"] = describe(self->system(), err);
                        fan->arrived();
                      });
            }
            fan->arrived();
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string> admin_state::backup(const std::vector<std::string>& args) {
  auto rp = self->make_response_promise<std::string>();
  self->request(ctx->inspector, opts.manage_timeout, atom::manage::value, std::string{"backup"},
                args)
      .then([rp](const std::string& text) mutable { rp.deliver(text); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string> admin_state::inboxes(uint32_t top) {
  struct gathered {
    json nodes = json::array();
    std::vector<std::pair<std::string, inbox_row>> rows;
    uint64_t inboxes = 0;
    uint64_t items = 0;
  };
  auto acc = std::make_shared<gathered>();
  auto rp = self->make_response_promise<std::string>();
  json doc{{"command", "inboxes"}, {"top", top}, {"now_ms", ctx->now()}};
  auto fan = std::make_shared<fan_in>([rp, acc, doc, top]() mutable {
    auto& rows = acc->rows;
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.depth > b.second.depth; });
    json deepest = json::array();
    for (std::size_t i = 0; i < rows.size() && i < top; ++i)
      deepest.push_back({{"user", rows[i].second.user},
                         {"node", rows[i].first},
                         {"depth", rows[i].second.depth},
                         {"oldest_ts", rows[i].second.oldest_ts}});
    doc["nodes"] = std::move(acc->nodes);
    doc["inboxes"] = acc->inboxes;
    doc["items"] = acc->items;
    doc["deepest"] = std::move(deepest);
    rp.deliver(doc.dump());
  });
  for_each_member(acc->nodes, *fan,
                  [&](const inspector_api& insp, std::size_t i, const std::string& id) {
                    self->request(insp, opts.census_timeout, atom::census::value, top)
                        .then(
                            [acc, i, id, fan, top](const census_report& c) {
                              auto& row = acc->nodes[i];
                              row["answered"] = true;
                              row["taken_ms"] = c.taken_ms;
                              row["inboxes"] = c.inboxes;
                              row["items"] = c.items;
                              row["complete"] = c.complete;
                              acc->inboxes += c.inboxes;
                              acc->items += c.items;
                              for (std::size_t k = 0; k < c.deepest.size() && k < top; ++k)
                                acc->rows.emplace_back(id, c.deepest[k]);
                              fan->arrived();
                            },
                            [this, acc, i, fan](const caf::error& err) {
                              acc->nodes[i]["error"] = describe(self->system(), err);
                              fan->arrived();
                            });
                  });
  fan->arrived();
  return rp;
}

std::string admin_state::ring(const std::vector<std::string>& args) const {
  auto members = members_of(*ctx);
  // The share of each member: where a fixed sample of names has its home.
  constexpr int sample = 10'000;
  std::map<std::string, int> homes;
  for (int i = 0; i < sample; ++i) {
    auto name = "user" + std::to_string(i);
    homes[ctx->cluster != nullptr ? ctx->cluster->home(name) : std::string{}]++;
  }
  json rows = json::array();
  for (const auto& m : members)
    rows.push_back({{"id", display_id(m.id)},
                    {"address", m.address},
                    {"up", m.up},
                    {"share", static_cast<double>(homes[m.id]) / sample}});
  json doc{{"command", "ring"}, {"members", rows}, {"shards", ctx->settings.shards}};
  if (!args.empty()) {
    const auto& name = args.front();
    auto home = ctx->cluster != nullptr ? ctx->cluster->home(name) : std::string{};
    bool up = home.empty() || home == ctx->self_name() || ctx->cluster->gate(home);
    doc["user"] = {
        {"name", name},
        {"home", display_id(home)},
        {"home_up", up},
        {"shard", cluster::shard_of(name, std::max<std::size_t>(1, ctx->settings.shards))}};
  }
  return doc.dump();
}

admin_api::behavior_type admin_actor(admin_api::stateful_pointer<admin_state> self,
                                     const node_context* ctx, admin_options opts) {
  auto& st = self->state;
  st.self = self;
  st.ctx = ctx;
  st.digest = secret_digest(opts.secret);
  opts.secret.clear();
  st.opts = std::move(opts);
  return {
      [self](atom::admin, const std::string& secret, const std::string& command,
             const std::vector<std::string>& args) {
        return self->state.handle(secret, command, args);
      },
  };
}

} // namespace tidings
