#include "actors/metrics.hpp"

#include <cstdio>

namespace tidings {

namespace detail {

std::size_t metric_slot() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t slot = next.fetch_add(1, std::memory_order_relaxed) % metric_slots;
  return slot;
}

} // namespace detail

uint64_t counter::load() const {
  uint64_t sum = 0;
  for (const auto& c : cells_)
    sum += c.value.load(std::memory_order_relaxed);
  return sum;
}

void latency_histogram::observe(uint64_t us) {
  std::size_t b = 0;
  while (b < bounds_us.size() && us > bounds_us[b])
    ++b;
  auto& c = cells_[detail::metric_slot()];
  c.counts[b].fetch_add(1, std::memory_order_relaxed);
  c.sum_us.fetch_add(us, std::memory_order_relaxed);
}

latency_histogram::snapshot latency_histogram::read() const {
  snapshot s;
  for (const auto& c : cells_) {
    for (std::size_t b = 0; b < buckets; ++b)
      s.counts[b] += c.counts[b].load(std::memory_order_relaxed);
    s.sum_us += c.sum_us.load(std::memory_order_relaxed);
  }
  return s;
}

uint64_t latency_histogram::snapshot::count() const {
  uint64_t n = 0;
  for (auto c : counts)
    n += c;
  return n;
}

double latency_histogram::snapshot::quantile_ms(double q) const {
  auto total = count();
  if (total == 0)
    return -1;
  auto rank = q * static_cast<double>(total);
  double seen = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    if (counts[b] == 0)
      continue;
    if (seen + static_cast<double>(counts[b]) >= rank) {
      double lower = b == 0 ? 0.0 : static_cast<double>(bounds_us[b - 1]);
      if (b == bounds_us.size()) // +Inf: the bucket's lower bound is all that is known
        return lower / 1000.0;
      double upper = static_cast<double>(bounds_us[b]);
      double within = (rank - seen) / static_cast<double>(counts[b]);
      return (lower + (upper - lower) * within) / 1000.0;
    }
    seen += static_cast<double>(counts[b]);
  }
  return static_cast<double>(bounds_us.back()) / 1000.0;
}

latency_histogram::snapshot latency_histogram::snapshot::since(const snapshot& older) const {
  snapshot d;
  for (std::size_t b = 0; b < buckets; ++b)
    d.counts[b] = counts[b] - older.counts[b];
  d.sum_us = sum_us - older.sum_us;
  return d;
}

const char* to_string(http_route r) {
  switch (r) {
  case http_route::accounts:
    return "accounts";
  case http_route::sessions:
    return "sessions";
  case http_route::media_upload:
    return "media_upload";
  case http_route::media_download:
    return "media_download";
  case http_route::metrics:
    return "metrics";
  case http_route::healthz:
    return "healthz";
  case http_route::other:
    break;
  }
  return "other";
}

void node_metrics::closed(uint16_t code) {
  std::size_t i = 0;
  while (i < counted_close_codes.size() && counted_close_codes[i] != code)
    ++i;
  sessions_closed[i].add();
}

void node_metrics::http_answered(http_route route, unsigned status, uint64_t us) {
  auto r = static_cast<std::size_t>(route);
  http_latency[r].observe(us);
  auto cls = status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3;
  http_answers[r][static_cast<std::size_t>(cls)].add();
}

namespace {

/// Writes Prometheus text: HELP and TYPE once per family, then its samples.
class exposition {
public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  /// One sample; `labels` is `{a="b",...}` or empty.
  void sample(const std::string& name, const std::string& labels, uint64_t v) {
    out_ += name + labels + ' ' + std::to_string(v) + '\n';
  }
  void sample(const std::string& name, const std::string& labels, int64_t v) {
    out_ += name + labels + ' ' + std::to_string(v) + '\n';
  }
  void sample_seconds(const std::string& name, const std::string& labels, uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
    out_ += name + labels + ' ' + buf + '\n';
  }
  template <class T> void single(const char* name, const char* type, const char* help, T v) {
    family(name, type, help);
    sample(name, "", v);
  }
  /// A histogram's buckets (cumulative), sum and count; `labels` without braces.
  void histogram(const std::string& name, const std::string& labels,
                 const latency_histogram::snapshot& s) {
    auto sep = labels.empty() ? "" : ",";
    uint64_t cumulative = 0;
    for (std::size_t b = 0; b < latency_histogram::buckets; ++b) {
      cumulative += s.counts[b];
      std::string le = "+Inf";
      if (b < latency_histogram::bounds_us.size()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g",
                      static_cast<double>(latency_histogram::bounds_us[b]) / 1e6);
        le = buf;
      }
      sample(name + "_bucket", "{" + labels + sep + "le=\"" + le + "\"}", cumulative);
    }
    auto braced = labels.empty() ? std::string{} : "{" + labels + "}";
    sample_seconds(name + "_sum", braced, s.sum_us);
    sample(name + "_count", braced, cumulative);
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

} // namespace

std::string node_metrics::render() const {
  exposition x;
  x.single("tidings_sessions_opened_total", "counter", "WebSocket connections accepted.",
           sessions_opened.load());
  x.single("tidings_sessions_live", "gauge", "WebSocket connections open now.",
           sessions_live.load());
  x.single("tidings_sessions_authenticated", "gauge",
           "WebSocket connections open now that have been welcomed (authenticated).",
           sessions_authenticated.load());
  x.family("tidings_sessions_closed_total", "counter",
           "WebSocket connections ended, by close code (1006: lost without a close frame).");
  for (std::size_t i = 0; i < sessions_closed.size(); ++i) {
    auto code = i < counted_close_codes.size() ? std::to_string(counted_close_codes[i]) : "other";
    x.sample("tidings_sessions_closed_total", "{code=\"" + code + "\"}", sessions_closed[i].load());
  }
  x.single("tidings_frames_received_total", "counter", "Client frames received.", frames_in.load());
  x.single("tidings_messages_stored_total", "counter", "Messages durably stored in inboxes.",
           messages_stored.load());
  x.single("tidings_messages_deduplicated_total", "counter", "Sends answered from a dedupe record.",
           messages_deduplicated.load());
  x.single("tidings_messages_blocked_total", "counter",
           "Sends answered sent but not stored (recipient blocked the sender).",
           messages_blocked.load());
  x.single("tidings_items_pushed_total", "counter",
           "Inbox items (messages and receipts) pushed to a live session.", items_pushed.load());
  x.single("tidings_receipts_stored_total", "counter", "Receipt items stored.",
           receipts_stored.load());
  x.single("tidings_items_acked_total", "counter", "Inbox items removed by acks.",
           items_acked.load());
  x.single("tidings_inboxes_live", "gauge", "Inbox actors running.", inboxes_live.load());
  x.single("tidings_storage_errors_total", "counter", "RocksDB reads or writes that failed.",
           storage_errors.load());
  x.single("tidings_storage_writable", "gauge",
           "1 when the store takes writes; 0 while it is read-only after a failed write "
           "(disk full): sends are refused with unavailable until it recovers.",
           storage_writable.load());
  x.single("tidings_storage_read_only_total", "counter",
           "Times the store went read-only after a failed write.", storage_read_only.load());
  x.single("tidings_storage_recoveries_total", "counter",
           "Times the store became writable again after a failed write.",
           storage_recoveries.load());
  x.single("tidings_read_receipts_failed_total", "counter",
           "Read receipts that could not be stored (the client may read again).",
           read_receipts_failed.load());
  x.single("tidings_frames_paused_total", "counter",
           "Times a connection stopped reading until its session caught up.",
           frames_paused.load(std::memory_order_relaxed));
  x.single("tidings_connections_refused_total", "counter",
           "TCP connections refused past the connection limits (total or per address).",
           connections_refused.load(std::memory_order_relaxed));
  x.single("tidings_sessions_pending", "gauge",
           "WebSocket sessions between their upgrade request and their welcome (logging in).",
           sessions_pending.load());
  x.single("tidings_sessions_refused_total", "counter",
           "WebSocket upgrades answered 503 overloaded past --net.max-pending-auth.",
           sessions_refused.load(std::memory_order_relaxed));
  x.single("tidings_overload_refusals_total", "counter",
           "Requests refused by a service whose queue was full.", overload_refusals.load());
  x.single("tidings_handoff_queued", "gauge",
           "Sends kept here for home nodes that were down, not yet replayed.",
           handoff_queued.load());
  x.single("tidings_handoff_replayed_total", "counter",
           "Handoff sends delivered to their home node.", handoff_replayed.load());
  x.single("tidings_handoff_dropped_total", "counter",
           "Handoff sends dropped at replay: the recipient does not exist or refused for good.",
           handoff_dropped.load());
  x.single("tidings_logins_total", "counter", "Successful logins (tokens issued).",
           logins_ok.load());
  x.single("tidings_login_failures_total", "counter",
           "Refused logins: wrong password, unknown user or too many failures.",
           logins_failed.load());
  x.single("tidings_registrations_total", "counter", "Accounts created.", registrations.load());
  x.single("tidings_media_received_bytes_total", "counter",
           "Bytes of media upload bodies received.", media_bytes_in.load());
  x.single("tidings_media_sent_bytes_total", "counter", "Bytes of media download bodies served.",
           media_bytes_out.load());
  x.family("tidings_errors_total", "counter",
           "Error frames sent to clients (refusals), by protocol error code.");
  for (uint8_t code = static_cast<uint8_t>(errc::bad_request);
       code <= static_cast<uint8_t>(errc::user_exists); ++code)
    x.sample("tidings_errors_total",
             "{code=\"" + std::string{to_string(static_cast<errc>(code))} + "\"}",
             errors[code].load());
  x.family("tidings_send_latency_seconds", "histogram",
           "From a send frame's arrival to its sent answer (durably stored, or handed off).");
  x.histogram("tidings_send_latency_seconds", "", send_latency.read());
  x.family("tidings_http_request_duration_seconds", "histogram",
           "HTTP requests from their header's arrival to the answer, by route.");
  for (std::size_t r = 0; r < http_route_count; ++r)
    x.histogram("tidings_http_request_duration_seconds",
                std::string{"route=\""} + to_string(static_cast<http_route>(r)) + "\"",
                http_latency[r].read());
  x.family("tidings_http_responses_total", "counter", "HTTP answers by route and status class.");
  static constexpr const char* classes[] = {"2xx", "3xx", "4xx", "5xx"};
  for (std::size_t r = 0; r < http_route_count; ++r)
    for (std::size_t c = 0; c < 4; ++c)
      x.sample("tidings_http_responses_total",
               std::string{"{route=\""} + to_string(static_cast<http_route>(r)) + "\",status=\"" +
                   classes[c] + "\"}",
               http_answers[r][c].load());
  // The inbox census: a snapshot of every stored inbox, refreshed in the background.
  x.single("tidings_inbox_items", "gauge",
           "Items waiting in all inboxes of users homed here (last census).", census.items.load());
  x.single("tidings_inboxes_pending", "gauge", "Inboxes holding at least one item (last census).",
           census.inboxes.load());
  x.single("tidings_inbox_oldest_item_age_seconds", "gauge",
           "Age of the oldest waiting item at the last census (-1: none).",
           census.oldest_age_ms.load() < 0 ? int64_t{-1} : census.oldest_age_ms.load() / 1000);
  x.single("tidings_inbox_census_timestamp_seconds", "gauge",
           "When the last census of the inboxes was taken (Unix time; 0: not yet).",
           census.taken_ms.load() / 1000);
  x.family("tidings_inbox_depth", "histogram",
           "Inboxes holding items, by number of items (last census; a snapshot, not a counter).");
  uint64_t cumulative = 0;
  for (std::size_t b = 0; b < census.inboxes_by_depth.size(); ++b) {
    cumulative += census.inboxes_by_depth[b].load();
    auto le = b < inbox_census_gauges::depth_bounds.size()
                  ? std::to_string(inbox_census_gauges::depth_bounds[b])
                  : std::string{"+Inf"};
    x.sample("tidings_inbox_depth_bucket", "{le=\"" + le + "\"}", cumulative);
  }
  x.sample("tidings_inbox_depth_sum", "", census.items.load());
  x.sample("tidings_inbox_depth_count", "", cumulative);
  x.single("tidings_handover_pending", "gauge",
           "Handovers of users' data this node still owes new members or awaits (member changes).",
           handover_pending.load());
  x.single("tidings_handover_rows_sent_total", "counter",
           "Rows handed over to new members and deleted here.", handover_rows_sent.load());
  x.single("tidings_handover_blobs_sent_total", "counter",
           "Blob files handed over to new members and deleted here.", handover_blobs_sent.load());
  x.single("tidings_handover_rows_received_total", "counter",
           "Rows received from old homes in handovers.", handover_rows_received.load());
  return x.take();
}

} // namespace tidings
