// tidings-node: one Tidings server. Options are `--section.name=value` on the command line or
// the same keys in the file given by `--config-file=FILE`, checked by config/tool_config.hpp
// (which also prints --help, --version and --dump-config). See docs/OPERATIONS.md.

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "actors/event_log.hpp"
#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "cluster/members.hpp"
#include "config/tool_config.hpp"

namespace {

constexpr const char* usage = R"(usage: tidings-node [--KEY=VALUE ...]
       tidings-node --config-file=/etc/tidings/tidings.ini [--KEY=VALUE ...]

Serves HTTP and WebSocket on --bind:--port, keeps its data in --data-dir. SIGTERM: /readyz
answers 503 for --net.drain-ms, then every connection is closed (1001) and the node stops;
SIGINT or a second signal: at once. Exit status: 0 after a stop, 1 when it cannot start
(port in use, data directory locked or unwritable, ...), 2 on a bad configuration.
See docs/OPERATIONS.md.
)";

struct node_config : tidings::config::tool_config {
  uint16_t port = 8080;
  std::string bind = "0.0.0.0";
  std::string data_dir = "./data";
  bool sync = true;
  size_t group_commit_us = 0;
  size_t memtable_mb = 0;
  size_t io_threads = 2;
  size_t push_window = 256;
  size_t push_window_bytes = 4 << 20;
  size_t frame_limit = 128 * 1024;
  size_t idle_timeout_ms = 60'000;
  size_t auth_timeout_ms = 10'000;
  size_t max_bad_frames = 20;
  double rate = 50;
  double burst = 200;
  size_t max_inflight = 256;
  size_t write_queue_frames = 1024;
  size_t write_queue_bytes = 8 * 1024 * 1024;
  size_t header_timeout_ms = 10'000;
  size_t max_connections = 10'000;
  size_t max_connections_per_address = 0;
  size_t max_pending_auth = 8192;
  std::string tls_certificate;
  std::string tls_key;
  std::string tls_passphrase;
  size_t inbox_idle_ms = 60'000;
  size_t argon2_ops = 2;
  size_t argon2_mem_kib = 19 * 1024;
  size_t login_failures = 10;
  size_t login_failures_per_address = 100;
  size_t account_queue = 16;
  size_t dedupe_hours = 48;
  size_t read_receipt_days = 30;
  size_t devices = 5;
  size_t device_retention_days = 30;
  size_t sweep_ms = 60'000;
  size_t media_max_bytes = 64 * 1024 * 1024;
  size_t media_retention_days = 0;
  size_t media_max_uploads = 64;
  size_t media_cache_bytes = size_t{1} << 30;
  size_t lastseen_persist_ms = 60'000;
  size_t shards = 4;
  size_t inbox_backlog = 10'000;
  size_t service_backlog = 10'000;
  size_t handoff_max = 100'000;
  std::string registration = "open";
  size_t drain_ms = 0;
  size_t form_timeout_ms = 10'000;
  bool web_enabled = true;
  std::string web_dir;
  std::string cluster_node_id;
  std::string cluster_bind = "0.0.0.0";
  uint16_t cluster_port = 7070;
  std::string cluster_peers;
  uint32_t cluster_protocol = 0;
  std::string cluster_tls_certificate;
  std::string cluster_tls_key;
  std::string cluster_tls_passphrase;
  std::string cluster_tls_ca;
  int64_t admin_port = -1;
  std::string admin_bind = "127.0.0.1";
  std::string admin_secret;
  size_t admin_census_s = 60;
  std::string log_level = "info";
  std::string log_format = "text";
  size_t log_rate = 200;

  node_config() : tool_config("tidings-node", "one Tidings chat server", usage) {
    // Durable writes run on the group writer's own thread, so actor handlers do not block
    // in fsync: one scheduler thread per core (docs/DESIGN.md, Threads).
    set("scheduler.max-threads", std::max(2u, std::thread::hardware_concurrency()));
    // A shared queue with a condition variable: work-stealing workers poll when idle.
    set("scheduler.policy", caf::atom("sharing"));
    // Cluster connections: a peer that vanishes without closing its connection (power off, a
    // partition) is noticed within seconds, not when TCP gives up.
    set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
    set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(5)});
    show_caf_option("scheduler.policy",
                    "'sharing' (one queue; idle threads sleep) or 'stealing' (CAF's default: "
                    "idle threads poll)");
    allow_only("scheduler.policy", {"sharing", "stealing"});
    show_caf_option("scheduler.max-threads", "scheduler threads (default: cores, at least 2)");
    show_caf_option("middleman.heartbeat-interval", "cluster: heartbeat on each peer connection");
    show_caf_option("middleman.connection-timeout",
                    "cluster: a peer silent this long is dropped (marked down)");
    section("global", "server")
        .add(port, "port", "TCP port for HTTP and WebSocket (0 picks a free one)")
        .add(bind, "bind", "address to listen on")
        .add(data_dir, "data-dir", "directory of the RocksDB database");
    section("storage", "storage")
        .add(sync, "sync", "fsync the write-ahead log before acknowledging a write")
        .add(group_commit_us, "group-commit-us",
             "at most one durable write per this many microseconds (0: back to back)")
        .add(memtable_mb, "memtable-mb",
             "MiB a table's memtable holds before it is flushed (0: RocksDB's 64)");
    section("net", "network front")
        .add(io_threads, "io-threads", "threads running the HTTP/WebSocket front")
        .add(drain_ms, "drain-ms",
             "on SIGTERM, answer /readyz 503 this long before closing connections")
        .add(write_queue_frames, "write-queue-frames",
             "frames queued per connection before close 4004")
        .add(write_queue_bytes, "write-queue-bytes",
             "bytes queued per connection before close 4004")
        .add(header_timeout_ms, "header-timeout-ms",
             "time for a request's whole header (and the TLS handshake) to arrive")
        .add(max_connections, "max-connections",
             "open TCP connections before new ones get 503 overloaded (0: no limit)")
        .add(max_connections_per_address, "max-connections-per-address",
             "open TCP connections per source address before the same (0: no limit)")
        .add(max_pending_auth, "max-pending-auth",
             "WebSocket sessions between upgrade and welcome before new upgrades get 503 "
             "overloaded with a retry_ms (0: no limit)")
        .add(tls_certificate, "tls-certificate",
             "PEM certificate (chain) for clients; with tls-key the port speaks TLS only "
             "(https://, wss://)")
        .add(tls_key, "tls-key", "PEM private key of net.tls-certificate")
        .add(tls_passphrase, "tls-passphrase", "passphrase of an encrypted net.tls-key");
    section("limits", "limits")
        .add(push_window, "push-window", "pushed-but-unacknowledged inbox items per session")
        .add(push_window_bytes, "push-window-bytes",
             "bytes of pushed-but-unacknowledged inbox items per session")
        .add(frame_limit, "frame-bytes", "largest accepted WebSocket frame (close 1009 above)")
        .add(idle_timeout_ms, "idle-timeout-ms", "close a session after this long without a frame")
        .add(auth_timeout_ms, "auth-timeout-ms", "time allowed for the auth frame")
        .add(max_bad_frames, "max-bad-frames", "bad_request answers before close 4003")
        .add(rate, "rate", "sustained frames per second per session")
        .add(burst, "burst", "frames a session may send at once")
        .add(max_inflight, "max-inflight", "unanswered sends per session before 'overloaded'")
        .add(inbox_idle_ms, "inbox-idle-ms", "stop an inbox actor unused for this long")
        .add(login_failures, "login-failures", "failed logins per user and minute before 429")
        .add(login_failures_per_address, "login-failures-per-address",
             "failed logins per source address and minute before 429 (0: off)")
        .add(account_queue, "account-queue",
             "account requests waiting per accounts worker before 'overloaded' (503)")
        .add(dedupe_hours, "dedupe-hours", "hours a (sender, cid) is remembered (at least 24)")
        .add(sweep_ms, "sweep-ms", "period of the dedupe expiry steps")
        .add(devices, "devices", "live sessions per user (one per device)")
        .add(device_retention_days, "device-retention-days",
             "a device unseen this long no longer holds its user's inbox items back")
        .add(read_receipt_days, "read-receipt-days",
             "days after delivery during which a message may still be reported read")
        .add(inbox_backlog, "inbox-backlog", "queued messages before an inbox answers overloaded")
        .add(handoff_max, "handoff-max",
             "sends kept for home nodes that are down before new ones get 'overloaded'")
        .add(service_backlog, "service-backlog",
             "queued messages before the directory and lastseen actors answer overloaded");
    section("lastseen", "last seen")
        .add(lastseen_persist_ms, "persist-ms", "a user's last seen is written at most this often");
    section("services", "services").add(shards, "shards", "profile and lastseen actors per node");
    section("media", "media")
        .add(media_max_bytes, "max-bytes", "largest media upload in bytes (413 above)")
        .add(media_retention_days, "retention-days",
             "delete media nobody may still need after this many days unused (0 = never)")
        .add(media_max_uploads, "max-uploads", "concurrent media uploads before 503")
        .add(media_cache_bytes, "cache-bytes",
             "cluster: bytes of local copies of blobs homed on other nodes");
    section("web", "web client")
        .add(web_enabled, "enabled", "serve the web client (Tidings Web) at /")
        .add(web_dir, "dir",
             "folder of the web client (default: 'web' next to this program, else "
             "../share/tidings/web from it)");
    section("cluster", "cluster")
        .add(cluster_node_id, "node-id",
             "this node's id in the cluster (1-32 of [a-z0-9_-]); unset: a single node")
        .add(cluster_bind, "bind", "address of the port other nodes connect to")
        .add(cluster_port, "port", "port other nodes connect to (0 picks a free one)")
        .add(cluster_peers, "peers", "the other members: ID@HOST:PORT,ID@HOST:PORT,...")
        .add(form_timeout_ms, "form-timeout-ms",
             "readiness: at start, wait this long for every peer before /readyz says ready")
        .add(cluster_protocol, "protocol-version",
             "pretend another cluster protocol version (testing only; 0: this build's)")
        .add(cluster_tls_certificate, "tls-certificate",
             "PEM certificate (chain) this node presents to its peers; with tls-key and tls-ca "
             "the cluster port speaks TLS only")
        .add(cluster_tls_key, "tls-key", "PEM private key of tls-certificate")
        .add(cluster_tls_passphrase, "tls-passphrase", "passphrase of an encrypted tls-key")
        .add(cluster_tls_ca, "tls-ca",
             "PEM file of the CA certificate(s) that must have signed every peer's certificate");
    section("admin", "admin port (tidings-inspect)")
        .add(admin_port, "port",
             "port of the inspector for tidings-inspect (0 picks a free one; -1: no admin port)")
        .add(admin_bind, "bind", "address of the admin port")
        .add(admin_secret, "secret", "shared secret every tidings-inspect request must carry")
        .add(admin_census_s, "census-interval-s",
             "seconds between censuses of the stored inboxes for /metrics (0: on request only)");
    section("log", "logs")
        .add(log_level, "level", "error, warn, info or debug")
        .add(log_format, "format", "text or json (one JSON object per line)")
        .add(log_rate, "rate", "lines per second before further lines are dropped and counted");
    section("accounts", "accounts")
        .add(registration, "registration",
             "'open': anyone may create an account (POST /v1/accounts); 'closed': refused "
             "(403), the administrator creates accounts");
    allow_only("accounts.registration", {"open", "closed"});
    keep_secret("cluster.tls-passphrase");
    keep_secret("admin.secret");
    keep_secret("net.tls-passphrase");
    section("auth", "passwords")
        .add(argon2_ops, "argon2-ops", "argon2id passes")
        .add(argon2_mem_kib, "argon2-mem-kib", "argon2id memory in KiB");
  }
};

/// Waits at most `timeout` for one of `signals` (blocked); returns it, or 0 after the timeout.
int wait_signal(const sigset_t& signals, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::max(std::chrono::nanoseconds{0}, deadline - std::chrono::steady_clock::now());
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(left);
    timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((left - secs).count())};
    auto sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig > 0)
      return sig;
    if (errno != EINTR)
      return 0;
  }
}

/// `web` next to the running program (where the build puts the client), else
/// `../share/tidings/web` from it (where `make install` puts it).
std::string default_web_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    return "web";
  auto next_to = exe.parent_path() / "web";
  auto installed = exe.parent_path().parent_path() / "share/tidings/web";
  return std::filesystem::is_directory(next_to, ec) || !std::filesystem::is_directory(installed, ec)
             ? next_to.string()
             : installed.string();
}

/// OpenSSL's queued errors as one line (empty if none), clearing the queue.
std::string ssl_errors() {
  std::string out;
  while (auto code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string{buf};
  }
  return out;
}

/// Checks the cluster's TLS files the way CAF's openssl module loads them for every connection
/// (where a bad file would end the process); returns what is wrong, naming option and file, or
/// an empty string.
std::string check_tls_files(const node_config& cfg) {
  const std::pair<const char*, const std::string*> files[] = {
      {"cluster.tls-certificate", &cfg.cluster_tls_certificate},
      {"cluster.tls-key", &cfg.cluster_tls_key},
      {"cluster.tls-ca", &cfg.cluster_tls_ca}};
  for (const auto& [option, file] : files) {
    if (file->empty())
      return std::string{option} + " is missing (TLS needs cluster.tls-certificate, "
                                   "cluster.tls-key and cluster.tls-ca)";
    if (!std::ifstream{*file})
      return std::string{option} + ": cannot read " + *file + ": " + std::strerror(errno);
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return "cannot create an OpenSSL context: " + ssl_errors();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cfg.cluster_tls_certificate.c_str()) != 1)
    return "cluster.tls-certificate: " + cfg.cluster_tls_certificate +
           " holds no PEM certificate: " + ssl_errors();
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(),
                                         const_cast<char*>(cfg.cluster_tls_passphrase.c_str()));
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.cluster_tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    auto last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_X509 && ERR_GET_REASON(last) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return "cluster.tls-key: " + cfg.cluster_tls_key + " is not the key of " +
             cfg.cluster_tls_certificate;
    }
    return "cluster.tls-key: " + cfg.cluster_tls_key +
           " holds no PEM private key (or cluster.tls-passphrase does not open it): " +
           ssl_errors();
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), cfg.cluster_tls_ca.c_str(), nullptr) != 1)
    return "cluster.tls-ca: " + cfg.cluster_tls_ca + " holds no PEM certificate: " + ssl_errors();
  return {};
}

constexpr int64_t hour_ms = 3600'000;

/// `count` periods of `period_ms` in milliseconds; nothing if that overflows (a number of days
/// no one means, which would otherwise be undefined behaviour).
std::optional<int64_t> milliseconds_of(size_t count, int64_t period_ms) {
  if (count > static_cast<size_t>(std::numeric_limits<int64_t>::max() / period_ms))
    return std::nullopt;
  return static_cast<int64_t>(count) * period_ms;
}

/// The node's options from the parsed configuration, checked; returns what is wrong (naming the
/// option) or an empty string. Reads no files (the TLS files are checked by check_tls_files).
std::string node_options_of(const node_config& cfg, tidings::node_options& opts) {
  opts.server.bind = cfg.bind;
  opts.server.port = cfg.port;
  opts.server.threads = cfg.io_threads;
  opts.server.write_queue_frames = cfg.write_queue_frames;
  opts.server.write_queue_bytes = cfg.write_queue_bytes;
  opts.server.header_timeout =
      std::chrono::milliseconds(std::max<size_t>(1, cfg.header_timeout_ms));
  opts.server.max_connections = cfg.max_connections;
  opts.server.max_connections_per_address = cfg.max_connections_per_address;
  opts.server.max_pending_auth = cfg.max_pending_auth;
  opts.server.tls_certificate = cfg.tls_certificate;
  opts.server.tls_key = cfg.tls_key;
  opts.server.tls_passphrase = cfg.tls_passphrase;
  if (cfg.tls_certificate.empty() != cfg.tls_key.empty())
    return "net.tls-certificate and net.tls-key go together";
  opts.db.path = cfg.data_dir;
  opts.db.sync = cfg.sync;
  opts.db.memtable_bytes = cfg.memtable_mb << 20;
  opts.writer.commit_interval = std::chrono::microseconds(cfg.group_commit_us);
  auto& s = opts.settings;
  s.push_window = cfg.push_window;
  s.push_window_bytes = std::max<size_t>(1, cfg.push_window_bytes);
  s.frame_limit = cfg.frame_limit;
  s.idle_timeout_ms = static_cast<int64_t>(cfg.idle_timeout_ms);
  s.auth_timeout_ms = static_cast<int64_t>(cfg.auth_timeout_ms);
  s.max_bad_frames = cfg.max_bad_frames;
  s.rate_per_sec = cfg.rate;
  s.rate_burst = cfg.burst;
  s.max_inflight_sends = cfg.max_inflight;
  s.inbox_idle_stop_ms = static_cast<int64_t>(cfg.inbox_idle_ms);
  s.argon2_ops = static_cast<unsigned>(cfg.argon2_ops);
  s.argon2_mem_kib = cfg.argon2_mem_kib;
  s.login_failures_per_min = cfg.login_failures;
  s.login_failures_per_address = cfg.login_failures_per_address;
  s.account_queue = std::max<size_t>(1, cfg.account_queue);
  auto dedupe_ms = milliseconds_of(std::max<size_t>(cfg.dedupe_hours, 24), hour_ms);
  if (!dedupe_ms)
    return "limits.dedupe-hours is too large";
  s.dedupe_retention_ms = *dedupe_ms;
  s.sweep_interval_ms = static_cast<int64_t>(cfg.sweep_ms);
  auto read_receipt_ms = milliseconds_of(cfg.read_receipt_days, 24 * hour_ms);
  if (!read_receipt_ms)
    return "limits.read-receipt-days is too large";
  s.read_receipt_retention_ms = *read_receipt_ms;
  s.max_devices = std::max<size_t>(1, cfg.devices);
  auto device_retention_ms = milliseconds_of(cfg.device_retention_days, 24 * hour_ms);
  if (!device_retention_ms)
    return "limits.device-retention-days is too large";
  s.device_retention_ms = *device_retention_ms;
  s.inbox_backlog = cfg.inbox_backlog;
  s.service_backlog = cfg.service_backlog;
  s.handoff_max = cfg.handoff_max;
  s.lastseen_persist_ms = static_cast<int64_t>(cfg.lastseen_persist_ms);
  s.shards = std::max<size_t>(1, cfg.shards);
  s.registration_open = cfg.registration == "open";
  opts.media.max_bytes = cfg.media_max_bytes;
  auto media_retention_ms = milliseconds_of(cfg.media_retention_days, 24 * hour_ms);
  if (!media_retention_ms)
    return "media.retention-days is too large";
  opts.media.retention_ms = *media_retention_ms;
  opts.media.max_uploads = std::max<size_t>(1, cfg.media_max_uploads);
  opts.media.cache_bytes = cfg.media_cache_bytes;

  if (!cfg.cluster_node_id.empty()) {
    if (!tidings::cluster::valid_node_id(cfg.cluster_node_id))
      return "cluster.node-id '" + cfg.cluster_node_id + "' is not 1-32 characters of [a-z0-9_-]";
    std::string why;
    auto peers = tidings::cluster::parse_peers(cfg.cluster_peers, &why);
    if (!peers)
      return "cluster.peers: " + why;
    opts.cluster.node_id = cfg.cluster_node_id;
    opts.cluster.bind = cfg.cluster_bind;
    opts.cluster.port = cfg.cluster_port;
    opts.cluster.peers = std::move(*peers);
    opts.cluster.protocol_version = cfg.cluster_protocol;
    opts.cluster.form_timeout = std::chrono::milliseconds(cfg.form_timeout_ms);
  } else if (!cfg.cluster_peers.empty()) {
    return "cluster.peers needs cluster.node-id";
  }
  return {};
}

} // namespace

#ifndef TIDINGS_NODE_NO_MAIN // fuzz/config.cpp includes this file for node_config
int main(int argc, char** argv) {
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // A write past the file-size limit (RLIMIT_FSIZE) fails with EFBIG instead of killing the
  // process: the store goes read-only and recovers like after a full disk (storage/db.hpp).
  std::signal(SIGXFSZ, SIG_IGN);

  node_config cfg;
  tidings::register_types(cfg);
  if (auto status = cfg.read(argc, argv, std::cout, std::cerr))
    return *status;

  tidings::node_options opts;
  if (auto why = node_options_of(cfg, opts); !why.empty()) {
    std::cerr << "tidings-node: " << why << "\n";
    return 2;
  }
  if (cfg.web_enabled) {
    // The default folder is optional (a node built without it serves no client); one named by
    // --web.dir must exist.
    auto dir = cfg.web_dir.empty() ? default_web_dir() : cfg.web_dir;
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec))
      opts.web_dir = dir;
    else if (!cfg.web_dir.empty()) {
      std::cerr << "tidings-node: web.dir: " << cfg.web_dir << " is not a directory\n";
      return 2;
    }
  }
  auto level = tidings::parse_log_level(cfg.log_level);
  if (!level || (cfg.log_format != "text" && cfg.log_format != "json")) {
    std::cerr << "tidings-node: "
              << (level ? "log.format must be text or json"
                        : "log.level must be error, warn, info or debug")
              << "\n";
    return 2;
  }
  tidings::log_options lo;
  lo.level = *level;
  lo.json = cfg.log_format == "json";
  lo.rate = static_cast<double>(std::max<size_t>(1, cfg.log_rate));
  lo.burst = lo.rate * 10;
  tidings::event_log log{lo};
  opts.log = &log;
  if (cfg.admin_port >= 0 || !cfg.admin_secret.empty()) {
    if (cfg.admin_port < 0 || cfg.admin_port > 65535 || cfg.admin_secret.empty()) {
      std::cerr << "tidings-node: the admin port needs admin.port (0-65535) and admin.secret\n";
      return 2;
    }
    opts.admin.enabled = true;
    opts.admin.bind = cfg.admin_bind;
    opts.admin.port = static_cast<uint16_t>(cfg.admin_port);
    opts.admin.secret = cfg.admin_secret;
  }
  opts.admin.census_interval = std::chrono::seconds(cfg.admin_census_s);
  if (opts.admin.enabled || !cfg.cluster_node_id.empty())
    cfg.load<caf::io::middleman>();

  if (!opts.cluster.node_id.empty())
    opts.cluster.log = [&log](const std::string& line) {
      bool trouble = line.find(" down") != std::string::npos ||
                     line.find("refus") != std::string::npos ||
                     line.find("cannot") != std::string::npos;
      if (trouble)
        log.warn(line);
      else
        log.info(line);
    };
  bool tls = !cfg.cluster_tls_certificate.empty() || !cfg.cluster_tls_key.empty() ||
             !cfg.cluster_tls_passphrase.empty() || !cfg.cluster_tls_ca.empty();
  if (tls) {
    if (cfg.cluster_node_id.empty()) {
      std::cerr << "tidings-node: cluster.tls-* needs cluster.node-id\n";
      return 2;
    }
    if (auto why = check_tls_files(cfg); !why.empty()) {
      std::cerr << "tidings-node: " << why << "\n";
      return 2;
    }
    // CAF's openssl module reads these for every connection it makes or accepts and then
    // requires a certificate from the peer, verified against the CA file.
    cfg.openssl_certificate = cfg.cluster_tls_certificate;
    cfg.openssl_key = cfg.cluster_tls_key;
    cfg.openssl_passphrase = cfg.cluster_tls_passphrase;
    cfg.openssl_cafile = cfg.cluster_tls_ca;
    cfg.openssl_capath.clear();
    cfg.load<caf::openssl::manager>();
    opts.cluster.tls = true;
  } else if (!cfg.openssl_certificate.empty() || !cfg.openssl_key.empty() ||
             !cfg.openssl_cafile.empty() || !cfg.openssl_capath.empty()) {
    // Without the cluster.tls-* options these would be ignored: the port would be plaintext.
    std::cerr << "tidings-node: use the cluster.tls-* options, not CAF's openssl.*\n";
    return 2;
  }

  caf::actor_system sys{cfg};
  try {
    tidings::node node{sys, opts};
    auto port = node.start();
    // Before "listening on": whoever waits for that line finds this one already written.
    if (opts.admin.enabled)
      log.raw("admin on " + opts.admin.bind + ":" + std::to_string(node.admin_port()));
    log.raw("listening on " + cfg.bind + ":" + std::to_string(port) +
            (cfg.tls_certificate.empty() ? "" : " (TLS)"));
    log.raw(opts.web_dir.empty() ? std::string{"web client: not served"}
                                 : "web client: serving " + opts.web_dir + " at /");
    if (!opts.cluster.node_id.empty())
      log.raw("cluster node '" + opts.cluster.node_id + "'" + (opts.cluster.tls ? " (TLS)" : "") +
              ": peers connect to " + opts.cluster.bind + ":" +
              std::to_string(node.cluster_port()));
    int sig = 0;
    sigwait(&stop_signals, &sig);
    node.start_draining(); // /readyz: 503 before any connection closes
    if (sig == SIGTERM && cfg.drain_ms > 0) {
      log.raw("draining on signal " + std::to_string(sig) + ": /readyz answers 503; stopping in " +
              std::to_string(cfg.drain_ms) + " ms (a second signal stops at once)");
      if (auto second = wait_signal(stop_signals, std::chrono::milliseconds(cfg.drain_ms)))
        sig = second;
    }
    log.raw("stopping on signal " + std::to_string(sig));
    node.stop();
  } catch (const std::exception& e) {
    log.error(std::string{"cannot run: "} + e.what());
    std::cerr << "tidings-node: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
#endif
