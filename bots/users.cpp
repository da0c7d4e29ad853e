#include "bots/users.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "client/http.hpp"

namespace tidings::bots {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr auto call_timeout = 60s;
constexpr int max_attempts = 5;

std::string base36(uint64_t value) {
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), digits[value % 36]);
    value /= 36;
  } while (value != 0);
  return out;
}

/// Runs `call`, retrying transport failures and 429/503 answers with a growing pause.
template <class F> auto with_retries(F&& call) {
  for (int attempt = 1;; ++attempt) {
    try {
      return call();
    } catch (const client::api_error& e) {
      if (attempt >= max_attempts || (e.status() != 429 && e.status() != 503))
        throw;
    } catch (const std::runtime_error&) {
      if (attempt >= max_attempts)
        throw;
    }
    // Preparation is not measured and has no actor to wake: a plain back-off is fine here.
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
}

std::string random_bytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::string out(n, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng() & 0xff);
  return out;
}

} // namespace

std::string make_run_id() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
               static_cast<uint64_t>(clock::now().time_since_epoch().count());
  auto id = base36(v % (36ull * 36 * 36 * 36 * 36 * 36));
  return std::string(6 - id.size(), '0') + id;
}

std::vector<bot_user> read_users_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::runtime_error(path + ": cannot open the users file");
  std::vector<bot_user> users;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos)
      line.erase(hash);
    std::istringstream fields{line};
    bot_user u;
    if (!(fields >> u.name))
      continue;
    if (!(fields >> u.password))
      throw std::runtime_error(path + ":" + std::to_string(number) +
                               ": expected USER PASSWORD [TOKEN]");
    fields >> u.token;
    users.push_back(std::move(u));
  }
  return users;
}

void write_users_file(const std::string& path, const std::vector<bot_user>& users) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    if (!out)
      throw std::runtime_error(tmp + ": cannot write the users file");
    out << "# tidings-bots users: USER PASSWORD [TOKEN]\n";
    for (const auto& u : users)
      out << u.name << ' ' << u.password << (u.token.empty() ? "" : " ") << u.token << '\n';
    if (!out.flush())
      throw std::runtime_error(tmp + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw std::runtime_error(path + ": cannot replace the users file: " + ec.message());
}

prepared_users prepare_users(const prepare_options& opts) {
  auto started = clock::now();
  prepared_users out;
  std::vector<bool> fresh(opts.count, true);
  if (!opts.users_file.empty() && std::filesystem::exists(opts.users_file)) {
    auto known = read_users_file(opts.users_file);
    for (std::size_t i = 0; i < known.size() && i < opts.count; ++i) {
      out.users.push_back(std::move(known[i]));
      fresh[i] = false;
      ++out.reused;
    }
  }
  for (std::size_t i = out.users.size(); i < opts.count; ++i)
    out.users.push_back(
        {opts.prefix + "-" + opts.run_id + "-" + base36(i), opts.password, {}, {}, {}, 0});

  std::mutex mtx;
  std::string first_error;
  std::size_t done = 0;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> media_supported{true};
  std::atomic<std::size_t> registered{0}, logins{0}, uploads{0}, upload_failures{0};

  auto prepare_one = [&](std::size_t i) {
    auto& u = out.users[i];
    if (fresh[i]) {
      with_retries([&] { client::register_user(opts.node, u.name, u.password); });
      ++registered;
    }
    if (u.token.empty()) {
      u.token = with_retries([&] { return client::login(opts.node, u.name, u.password); });
      ++logins;
    }
    auto bytes = i < opts.media_bytes.size() ? opts.media_bytes[i] : 0;
    if (bytes > 0 && media_supported) {
      auto res = with_retries([&] {
        return client::http_call(opts.node, "POST", "/v1/media", random_bytes(bytes, i + 1),
                                 "image/jpeg", u.token, call_timeout);
      });
      auto body = res.json_body();
      if (res.status == 404 || res.status == 405) {
        media_supported = false;
      } else if (res.status == 201 && body.is_object() && body.value("hash", "") != "") {
        u.media_hash = body.value("hash", "");
        u.media_mime = body.value("mime", "image/jpeg");
        u.media_size = body.value("size", uint64_t{bytes});
        ++uploads;
      } else {
        ++upload_failures;
      }
    }
  };

  auto worker = [&] {
    for (;;) {
      auto i = next++;
      if (i >= opts.count || failed)
        return;
      try {
        prepare_one(i);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> guard{mtx};
        if (!failed.exchange(true))
          first_error = "preparing user " + out.users[i].name + ": " + e.what();
        return;
      }
      std::lock_guard<std::mutex> guard{mtx};
      ++done;
      if (opts.progress)
        opts.progress(done, opts.count);
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t k = 0; k < std::max<std::size_t>(1, opts.parallel); ++k)
    workers.emplace_back(worker);
  for (auto& t : workers)
    t.join();
  if (failed)
    throw std::runtime_error(first_error);

  if (!opts.users_file.empty()) {
    // Keep users of the file beyond `count` too: a smaller run must not forget them.
    std::vector<bot_user> all = out.users;
    if (std::filesystem::exists(opts.users_file)) {
      auto known = read_users_file(opts.users_file);
      for (std::size_t i = opts.count; i < known.size(); ++i)
        all.push_back(std::move(known[i]));
    }
    write_users_file(opts.users_file, all);
  }
  out.registered = registered;
  out.logins = logins;
  out.uploads = uploads;
  out.upload_failures = upload_failures;
  out.media_supported = media_supported;
  out.seconds = std::chrono::duration<double>(clock::now() - started).count();
  return out;
}

} // namespace tidings::bots
