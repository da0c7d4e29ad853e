#include "bots/run.hpp"

#include <chrono>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "bots/bot.hpp"
#include "bots/collector.hpp"
#include "bots/conductor.hpp"
#include "bots/context.hpp"
#include "bots/messages.hpp"
#include "bots/network.hpp"
#include "bots/timers.hpp"
#include "bots/users.hpp"
#include "bots/xmpp_bot.hpp"

namespace tidings::bots {

using nlohmann::json;

void run_control::interrupt() {
  std::lock_guard<std::mutex> guard{mtx_};
  interrupted_ = true;
  if (conductor_)
    caf::anon_send(conductor_, atom::interrupt::value);
}

void run_control::advance() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (conductor_)
    caf::anon_send(conductor_, atom::advance::value);
  else
    ++advances_;
}

void run_control::attach(caf::actor conductor) {
  std::lock_guard<std::mutex> guard{mtx_};
  conductor_ = std::move(conductor);
  if (!conductor_)
    return;
  for (; advances_ > 0; --advances_)
    caf::anon_send(conductor_, atom::advance::value);
  if (interrupted_)
    caf::anon_send(conductor_, atom::interrupt::value);
}

namespace {

std::string utc_now() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::ostringstream out;
  out << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return out.str();
}

/// Failures that only the whole run can see.
void add_run_failures(const scenario& plan, json& report) {
  auto& failures = report["failures"];
  if (report["connections"]["established"].get<uint64_t>() == 0)
    failures.push_back("no bot could connect");
  bool senders = false;
  for (const auto& g : plan.groups)
    senders = senders || (g.does.think_ms && g.contacts > 0);
  if (senders && report["messages"]["sent"].get<uint64_t>() == 0)
    failures.push_back("no message was sent");
  if (report.value("drain_stalled", false))
    failures.push_back("the drain stalled: the work outstanding did not change for "
                       "drain_stall_s = " +
                       std::to_string(static_cast<int>(plan.drain_stall_s)) + " s");
  if (report.value("drain_timed_out", false))
    failures.push_back("the drain timed out with work outstanding (the node had not delivered "
                       "everything after drain_timeout_s = " +
                       std::to_string(static_cast<int>(plan.drain_timeout_s)) + " s)");
}

/// Names the users of the lost messages the accounting lists by bot index.
void name_lost_examples(const run_context& ctx, json& report) {
  for (auto& e : report["messages"]["lost_examples"]) {
    auto from = e["from"].get<uint32_t>();
    auto to = e["to"].get<uint32_t>();
    e["from"] = ctx.users[from].name;
    e["to"] = ctx.users[to].name;
    e["cid"] = ctx.run_id + "." + std::to_string(e["number"].get<uint32_t>());
    e.erase("number");
  }
}

} // namespace

json run_load_test(caf::actor_system& sys, const run_options& opts) {
  const auto& plan = opts.plan;
  auto log = [&](const std::string& line) {
    if (opts.log != nullptr)
      *opts.log << line << std::flush;
  };
  auto started_at = utc_now();

  run_context ctx;
  ctx.plan = &plan;
  ctx.run_id = make_run_id();
  ctx.now_ns = &steady_now_ns;
  ctx.group_of = group_layout(plan);

  prepare_options prep;
  prep.node = opts.node;
  prep.count = plan.total_bots();
  prep.prefix = plan.user_prefix;
  prep.password = plan.password;
  prep.run_id = ctx.run_id;
  prep.parallel = plan.prepare_parallel;
  prep.users_file = opts.users_file;
  for (auto g : ctx.group_of) {
    const auto& b = plan.groups[g].does;
    prep.media_bytes.push_back(b.media_share > 0 ? b.media_bytes : 0);
  }
  if (opts.progress)
    prep.progress = [&](std::size_t done, std::size_t total) {
      if (done % 10 == 0 || done == total)
        log("\rpreparing users: " + std::to_string(done) + "/" + std::to_string(total));
    };
  log("preparing " + std::to_string(prep.count) + " users (run " + ctx.run_id + ")" +
      (opts.progress ? "\n" : "...\n"));
  network_options net_opts;
  net_opts.threads = opts.io_threads;
  net_opts.sources = opts.sources;
  if (opts.xmpp) {
    net_opts.target = opts.xmpp->path;
    net_opts.subprotocol = xmpp::subprotocol;
    ctx.xmpp = &*opts.xmpp;
  }
  network net{opts.node, net_opts, &steady_now_ns};
  ctx.net = &net;
  timer_wheel timers;
  ctx.timers = &timers;
  auto users = opts.xmpp ? register_xmpp_users(sys, net, *opts.xmpp, prep) : prepare_users(prep);
  if (opts.progress)
    log("\n");
  std::ostringstream summary;
  summary << std::fixed << std::setprecision(1) << "users ready in " << users.seconds
          << " s: " << users.registered << " registered, " << users.reused << " reused, "
          << users.logins << " logins";
  if (users.uploads + users.upload_failures > 0 || !users.media_supported)
    summary << ", media "
            << (users.media_supported ? "uploads " + std::to_string(users.uploads)
                                      : std::string{"not supported by the node"});
  log(summary.str() + "\n");

  ctx.users = std::move(users.users);
  ctx.media_supported = users.media_supported;
  for (uint32_t i = 0; i < ctx.users.size(); ++i)
    ctx.bot_of_user.emplace(ctx.users[i].name, i);
  ctx.contacts = assign_contacts(plan, ctx.group_of);

  json report;
  std::string failure;
  {
    ctx.collector = sys.spawn(collector_actor, &ctx, opts.progress);
    std::vector<caf::actor> bots;
    bots.reserve(ctx.users.size());
    for (uint32_t i = 0; i < ctx.users.size(); ++i)
      bots.push_back(opts.xmpp ? sys.spawn(xmpp_bot_actor, &ctx, i)
                               : sys.spawn(bot_actor, &ctx, i));
    conductor_options copts;
    copts.time_scale = opts.time_scale;
    auto conductor = sys.spawn(conductor_actor, &ctx, bots, copts);
    if (opts.control != nullptr)
      opts.control->attach(conductor);
    {
      caf::scoped_actor self{sys};
      self->request(conductor, caf::infinite, atom::run::value)
          .receive([&](const std::string& text) { report = json::parse(text); },
                   [&](const caf::error& err) { failure = sys.render(err); });
    }
    if (opts.progress)
      std::fputs("\n", stdout);
    if (opts.control != nullptr)
      opts.control->attach(nullptr);
    for (auto& bot : bots)
      caf::anon_send_exit(bot, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(conductor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx.collector, caf::exit_reason::user_shutdown);
  }
  sys.await_all_actors_done();
  net.stop();    // pending I/O handlers hold bot handles: release them while the system lives
  timers.stop(); // so do pending timers
  ctx.collector = nullptr;
  if (!failure.empty())
    throw std::runtime_error("the run failed: " + failure);

  json users_info{{"registered", users.registered},
                  {"reused", users.reused},
                  {"logins", users.logins},
                  {"media_uploads", users.uploads},
                  {"media_upload_failures", users.upload_failures},
                  {"media_supported", users.media_supported},
                  {"prepare_s", users.seconds}};
  report["scenario"] = plan.name;
  report["description"] = plan.description;
  report["url"] = opts.url;
  report["run_id"] = ctx.run_id;
  report["started_at"] = started_at;
  report["bots"] = ctx.users.size();
  report["users"] = std::move(users_info);
  report["presence_unsupported"] = ctx.presence_unsupported.load();
  name_lost_examples(ctx, report);
  add_run_failures(plan, report);
  report["ok"] = report["failures"].empty();
  return report;
}

} // namespace tidings::bots
