#include "actors/steward.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <system_error>

#include "actors/accounts.hpp"
#include "actors/directory.hpp"
#include "actors/messages.hpp"
#include "net/fields.hpp"
#include "storage/keys.hpp"

namespace tidings {

using net::json;
namespace fs = std::filesystem;

namespace {

constexpr auto step_timeout = std::chrono::seconds(30);
constexpr std::size_t users_page_max = 1000;

/// The first key after every key that starts with `prefix`-less names: all account names sort
/// below it (names are ASCII, net/fields.hpp).
std::string after_all_names() {
  return std::string{"\xff"};
}

/// The part of `key` after its first `\0`, up to the next `\0` (or the end).
std::string_view second_part(std::string_view key) {
  auto a = key.find('\0');
  if (a == std::string_view::npos)
    return {};
  auto rest = key.substr(a + 1);
  return rest.substr(0, rest.find('\0'));
}

json decode_record(const std::string& bytes) {
  auto v = net::decode(bytes, net::encoding::msgpack, nullptr);
  return v && v->is_object() ? *v : json::object();
}

} // namespace

caf::result<std::string> steward_state::handle(const std::string& command,
                                               const std::vector<std::string>& args) {
  auto arg = [&args](std::size_t i) { return i < args.size() ? args[i] : std::string{}; };
  if (command == "users") {
    std::size_t limit = 100;
    try {
      if (!arg(1).empty())
        limit = std::min<std::size_t>(std::stoul(arg(1)), users_page_max);
    } catch (const std::exception&) {
      return make_error(errc::bad_request, "users: the page size must be a number");
    }
    return users(arg(0), std::max<std::size_t>(1, limit));
  }
  if (command == "backup")
    return backup(arg(0));
  auto user = arg(0);
  if (!net::valid_user(user))
    return make_error(errc::bad_request, "'" + user + "' is not a valid user name");
  if (command == "purge-media") { // asked of every member by a delete
    json doc{{"command", command}, {"user", user}, {"node", ctx->self_name()}};
    doc["removed"] = purge_media(user);
    return doc.dump();
  }
  if (!ctx->is_home(user))
    return make_error(errc::unavailable, "this node does not serve '" + user + "' now, retry");
  if (command == "account")
    return account(user);
  if (command == "create" || command == "disable" || command == "enable" || command == "revoke")
    return change(command, user, arg(1));
  if (command == "delete")
    return remove(user);
  return make_error(errc::bad_request, "unknown command '" + command + "'");
}

std::string steward_state::users(const std::string& after, std::size_t limit) const {
  json rows = json::array();
  bool more = false;
  // Strictly after `after`: its own key and everything below are skipped.
  auto begin = after.empty() ? std::string{} : after + '\0';
  auto st = ctx->store->scan(storage::table::accounts, begin, after_all_names(), limit + 1,
                             [&](std::string_view key, std::string_view value) {
                               if (rows.size() == limit) {
                                 more = true;
                                 return false;
                               }
                               auto record = decode_record(std::string{value});
                               rows.push_back({{"user", key},
                                               {"created", record.value("created", int64_t{0})},
                                               {"disabled", record.value("disabled", false)}});
                               return true;
                             });
  json doc{
      {"command", "users"}, {"node", ctx->self_name()}, {"users", std::move(rows)}, {"more", more}};
  if (!st.ok())
    doc["error"] = "storage error: the list ended early";
  return doc.dump();
}

caf::result<std::string> steward_state::account(const std::string& user) const {
  json doc{{"command", "account"}, {"user", user}, {"node", ctx->self_name()}};
  auto record = ctx->store->get(storage::table::accounts, user);
  if (record.failed())
    return make_error(errc::unavailable, "storage unavailable, retry");
  doc["exists"] = record.found();
  if (!record.found())
    return doc.dump();
  auto r = decode_record(record.value());
  doc["created"] = r.value("created", int64_t{0});
  doc["disabled"] = r.value("disabled", false);
  bool failed = false;
  doc["tokens"] = token_keys_of(*ctx->store, user, &failed).size();
  auto profile = ctx->store->get(storage::table::profiles, user);
  if (profile.found()) {
    auto p = decode_record(profile.value());
    doc["profile"] = {{"name", p.value("name", "")},
                      {"about", p.value("about", "")},
                      {"avatar", p.value("avatar", "")},
                      {"updated", p.value("updated", int64_t{0})}};
  } else {
    doc["profile"] = nullptr; // never set: the defaults
  }
  failed = failed || profile.failed();
  auto stored = stored_inbox_facts(*ctx->store, user, &failed);
  doc["inbox_depth"] = stored.depth;
  if (failed)
    doc["error"] = "storage error: some facts are missing";
  return doc.dump();
}

caf::result<std::string> steward_state::change(const std::string& command, const std::string& user,
                                               const std::string& password) {
  auto rp = self->make_response_promise<std::string>();
  self->request(ctx->accounts_of_user(user), step_timeout, atom::manage::value, command, user,
                password)
      .then(
          [rp, command, user](const std::vector<std::string>& revoked) mutable {
            json doc{{"command", command}, {"user", user}, {"tokens_revoked", revoked.size()}};
            rp.deliver(doc.dump());
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<std::string> steward_state::remove(const std::string& user) {
  auto rp = self->make_response_promise<std::string>();
  auto directory = caf::actor_cast<directory_actor_t>(ctx->directory);
  self->request(ctx->accounts_of_user(user), step_timeout, atom::manage::value,
                std::string{"delete"}, user, std::string{})
      .then(
          [this, rp, user, directory](const std::vector<std::string>& revoked) mutable {
            // The account is gone (no inbox can start for it now). The accounts worker told
            // the registry of the revoked tokens before answering, so once the registry has
            // answered this question it has told the live sessions why they end: they close
            // with "account deleted" before their inbox stops under them.
            self->request(ctx->registry, step_timeout, atom::exists::value, user)
                .then([this, rp, user, directory, n = revoked.size()](
                          bool) mutable { stop_and_purge(std::move(rp), directory, user, n); },
                      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

void steward_state::stop_and_purge(caf::typed_response_promise<std::string> rp,
                                   const directory_actor_t& directory, const std::string& user,
                                   std::size_t tokens) {
  self->request(directory, step_timeout, atom::stop::value, user)
      .then(
          [this, rp, user, tokens](bool) mutable {
            auto rows = purge_rows(user);
            if (!rows) {
              rp.deliver(std::move(rows.error()));
              return;
            }
            (*rows)["tokens"] = tokens;
            json doc{{"command", "delete"},         {"user", user},
                     {"node", ctx->self_name()},    {"tokens_revoked", tokens},
                     {"removed", std::move(*rows)}, {"media_removed", purge_media(user)}};
            ctx->logs().info("user deleted by the administrator", {{"user", user}});
            rp.deliver(doc.dump());
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

caf::expected<json> steward_state::purge_rows(const std::string& user) const {
  storage::batch b;
  json counts = json::object();
  auto range = storage::prefix_range(user);
  bool failed = false;
  auto drop = [&](storage::table t, const char* name, bool own_key) {
    std::size_t n = 0;
    if (own_key) {
      auto found = ctx->store->contains(t, user);
      failed = failed || found == storage::answer::failed;
      if (found == storage::answer::yes) {
        b.del(t, user);
        ++n;
      }
    }
    auto st = ctx->store->scan(t, range.begin, range.end, SIZE_MAX,
                               [&](std::string_view key, std::string_view) {
                                 b.del(t, key);
                                 ++n;
                                 return true;
                               });
    failed = failed || !st.ok();
    counts[name] = counts.value(name, std::size_t{0}) + n;
  };
  drop(storage::table::inbox, "inbox", false);
  drop(storage::table::inbox_meta, "inbox_meta", true);
  drop(storage::table::dedupe, "dedupe", false);
  drop(storage::table::received, "received", false);
  drop(storage::table::profiles, "profile", true);
  drop(storage::table::contacts, "contacts", false);
  drop(storage::table::blocks, "blocks", false);
  drop(storage::table::lastseen, "last_seen", true);
  if (failed)
    return make_error(errc::unavailable, "storage error while reading the user's rows, retry");
  if (!ctx->store->write(b).ok())
    return make_error(errc::unavailable, "storage error: the user's rows were not removed, retry");
  return counts;
}

json steward_state::purge_media(const std::string& user) const {
  storage::batch b;
  json counts = json::object();
  // These tables are keyed by hash first: every row is looked at.
  auto drop = [&](storage::table t, const char* name) {
    std::size_t n = 0;
    ctx->store->scan(t, "", after_all_names(), SIZE_MAX,
                     [&](std::string_view key, std::string_view) {
                       if (second_part(key) == user) {
                         b.del(t, key);
                         ++n;
                       }
                       return true;
                     });
    counts[name] = n;
  };
  drop(storage::table::media_readers, "media_readers");
  drop(storage::table::media_pending, "media_pending");
  drop(storage::table::avatars, "avatars");
  if (b.count() > 0 && !ctx->store->write(b).ok())
    counts["error"] = "storage error: the media rows were not removed";
  return counts;
}

caf::result<std::string> steward_state::backup(const std::string& dir) const {
  if (dir.empty() || dir.front() != '/')
    return make_error(errc::bad_request, "backup needs an absolute DIR on the node's machine");
  std::error_code ec;
  if (fs::exists(dir, ec))
    return make_error(errc::bad_request, "'" + dir + "' exists: give a new directory");
  auto started = std::chrono::steady_clock::now();
  if (auto st = ctx->store->checkpoint(dir); !st.ok())
    return make_error(errc::unavailable, "checkpoint failed: " + st.error);
  // Blob files are immutable and in place before their index row is written, so every blob the
  // checkpoint names is there now: linked (same filesystem) or copied after it.
  auto media = fs::path{ctx->store->options().path} / "media";
  uint64_t blobs = 0;
  uint64_t bytes = 0;
  std::string trouble;
  if (fs::is_directory(media, ec)) {
    for (auto it = fs::recursive_directory_iterator{media, ec};
         !ec && it != fs::recursive_directory_iterator{}; it.increment(ec)) {
      auto rel = fs::relative(it->path(), media, ec);
      auto top = rel.begin() != rel.end() ? rel.begin()->string() : std::string{};
      if (top == "tmp" || top == "cache") { // uploads in progress, copies of others' blobs
        it.disable_recursion_pending();
        continue;
      }
      auto target = fs::path{dir} / "media" / rel;
      std::error_code fe;
      if (it->is_directory(fe)) {
        fs::create_directories(target, fe);
      } else if (it->is_regular_file(fe)) {
        fs::create_hard_link(it->path(), target, fe);
        if (fe) {
          fe.clear();
          fs::copy_file(it->path(), target, fe);
        }
        if (!fe) {
          ++blobs;
          bytes += fs::file_size(target, fe);
        }
      }
      if (fe && trouble.empty())
        trouble = it->path().string() + ": " + fe.message();
    }
  }
  if (ec && trouble.empty())
    trouble = media.string() + ": " + ec.message();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
  json doc{{"command", "backup"}, {"node", ctx->self_name()}, {"dir", dir},
           {"blobs", blobs},      {"blob_bytes", bytes},      {"ms", took}};
  if (!trouble.empty())
    doc["error"] = "media files not all copied: " + trouble;
  ctx->logs().info("backup taken", {{"dir", dir}, {"blobs", blobs}, {"ms", took}});
  return doc.dump();
}

steward_api::behavior_type steward_actor(steward_api::stateful_pointer<steward_state> self,
                                         const node_context* ctx) {
  self->state.self = self;
  self->state.ctx = ctx;
  return {
      [self](atom::manage, const std::string& command, const std::vector<std::string>& args) {
        return self->state.handle(command, args);
      },
  };
}

} // namespace tidings
