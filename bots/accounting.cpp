#include "bots/accounting.hpp"

namespace tidings::bots {

using nlohmann::json;

namespace {

/// Latencies are recorded in microseconds and reported in milliseconds.
constexpr double us_per_ms = 1000.0;
/// Lost messages listed by name in the report, for looking them up on the node.
constexpr std::size_t max_examples = 20;

uint64_t to_us(int64_t ns) {
  return ns <= 0 ? 0 : static_cast<uint64_t>(ns / 1000);
}

} // namespace

accounting::accounting(std::size_t bots) : live_(bots, 0) {
  records_.reserve(1024);
}

void accounting::record_sent(uint64_t us) {
  send_to_sent_.record(us);
  window_sent_.record(us);
}

void accounting::record_receive(uint64_t us) {
  send_to_receive_.record(us);
  window_receive_.record(us);
}

json accounting::take_window() {
  auto ms = [](uint64_t us) { return static_cast<double>(us) / us_per_ms; };
  json out{{"sent_p50_ms", ms(window_sent_.percentile(0.5))},
           {"sent_p99_ms", ms(window_sent_.percentile(0.99))},
           {"recv_p50_ms", ms(window_receive_.percentile(0.5))},
           {"recv_p99_ms", ms(window_receive_.percentile(0.99))}};
  window_sent_ = {};
  window_receive_ = {};
  return out;
}

accounting::record& accounting::at(message_key key) {
  return records_[key];
}

void accounting::index_mid(const std::string& mid, message_key key) {
  by_mid_.emplace(mid, key);
}

void accounting::on_send(message_key key, uint32_t to, bool media, int64_t t) {
  auto& r = at(key);
  if (r.begun)
    return;
  r.begun = true;
  r.t_send = t;
  r.media = media;
  ++counters_.started;
  // Events that overtook this one: record their latencies now.
  if (r.confirmed)
    record_sent(to_us(r.t_sent - t));
  if (r.receptions > 0)
    record_receive(to_us(r.t_recv - t));
  if (r.delivered)
    send_to_delivered_.record(to_us(r.t_delivered - t));
  if (r.receptions > 0 && r.to != to)
    ++misdelivered_; // it went to a bot it was not sent to
  r.to = to;
}

void accounting::on_sent(message_key key, const std::string& mid, int64_t t) {
  auto& r = at(key);
  if (r.confirmed) {
    if (mid != r.mid)
      ++mid_conflicts_;
    else
      ++sent_repeats_;
    return;
  }
  if (!r.mid.empty() && r.mid != mid)
    ++mid_conflicts_; // received under one mid, confirmed under another
  r.confirmed = true;
  r.t_sent = t;
  if (r.mid.empty()) {
    r.mid = mid;
    index_mid(mid, key);
  }
  ++counters_.sent;
  if (r.receptions == 0)
    ++confirmed_unreceived_;
  if (r.begun)
    record_sent(to_us(t - r.t_send));
}

void accounting::on_send_failed(message_key key, const std::string& code) {
  auto& r = at(key);
  if (r.failed || r.confirmed)
    return;
  r.failed = true;
  ++counters_.failed;
  ++failed_by_code_[code];
}

void accounting::on_received(message_key key, uint32_t at_bot, const std::string& mid, int64_t t,
                             uint32_t session, bool after_ack) {
  ++raw_received_;
  auto& r = at(key);
  if (r.begun && r.to != at_bot) {
    ++misdelivered_;
    return;
  }
  if (r.receptions == 0) {
    r.receptions = 1;
    r.last_session = session;
    r.t_recv = t;
    r.to = at_bot;
    if (r.mid.empty()) {
      r.mid = mid;
      index_mid(mid, key);
    } else if (r.mid != mid) {
      ++dup_second_mid_; // confirmed under one mid, arrived under another
    }
    ++counters_.received;
    if (r.confirmed)
      --confirmed_unreceived_;
    if (r.begun)
      record_receive(to_us(t - r.t_send));
    return;
  }
  ++r.receptions;
  if (mid != r.mid) {
    ++dup_second_mid_;
    index_mid(mid, key);
  } else if (session == r.last_session) {
    ++dup_same_session_;
  } else {
    ++repeats_;
    if (after_ack)
      ++repeats_after_ack_;
  }
  r.last_session = session;
}

void accounting::on_receipt(uint32_t at_bot, int64_t by, bool read,
                            const std::vector<std::string>& mids, int64_t t) {
  for (const auto& mid : mids) {
    auto it = by_mid_.find(mid);
    if (it == by_mid_.end()) {
      ++receipts_unmatched_;
      continue;
    }
    auto& r = at(it->second);
    if (key_sender(it->second) != at_bot || by != static_cast<int64_t>(r.to)) {
      ++receipts_misrouted_;
      continue;
    }
    if (read) {
      if (!r.read) {
        r.read = true;
        ++read_receipts_;
      } else {
        ++receipt_repeats_;
      }
      continue;
    }
    if (r.delivered) {
      ++receipt_repeats_;
      continue;
    }
    r.delivered = true;
    r.t_delivered = t;
    ++counters_.delivered;
    if (r.begun)
      send_to_delivered_.record(to_us(t - r.t_send));
  }
}

void accounting::on_connected(uint32_t bot, int64_t latency_ns) {
  ++connects_;
  connect_.record(to_us(latency_ns));
  if (bot < live_.size() && !live_[bot]) {
    live_[bot] = 1;
    ++counters_.live;
    max_live_ = std::max(max_live_, counters_.live);
  }
}

void accounting::on_closed(uint32_t bot, uint16_t code, const std::string& reason, bool opened,
                           bool expected) {
  if (bot < live_.size() && live_[bot]) {
    live_[bot] = 0;
    --counters_.live;
  }
  if (!opened) {
    ++connect_failures_;
    ++connect_errors_[reason.substr(0, 80)];
    return;
  }
  ++closes_[std::to_string(code) + (expected ? "" : " unexpected")];
}

uint64_t accounting::outstanding() const {
  auto unanswered =
      counters_.started - std::min(counters_.started, counters_.sent + counters_.failed);
  auto unreceipted = counters_.received - std::min(counters_.received, counters_.delivered);
  return unanswered + confirmed_unreceived_ + unreceipted;
}

json accounting::report() const {
  uint64_t lost = 0;
  uint64_t received_sent = 0;
  uint64_t received_unconfirmed = 0;
  uint64_t unanswered = 0;
  uint64_t receipts_missing = 0;
  uint64_t media = 0;
  json lost_examples = json::array();
  for (const auto& [key, r] : records_) {
    if (r.media && r.begun)
      ++media;
    if (r.confirmed && r.receptions == 0) {
      ++lost;
      if (lost_examples.size() < max_examples)
        lost_examples.push_back({{"from", key_sender(key)},
                                 {"number", static_cast<uint32_t>(key)},
                                 {"to", r.to},
                                 {"mid", r.mid}});
    }
    if (r.confirmed && r.receptions > 0)
      ++received_sent;
    if (!r.confirmed && r.receptions > 0)
      ++received_unconfirmed;
    if (r.begun && !r.confirmed && !r.failed)
      ++unanswered;
    if (r.receptions > 0 && !r.delivered)
      ++receipts_missing;
  }
  auto duplicates = dup_same_session_ + dup_second_mid_;
  json messages{{"started", counters_.started},
                {"sent", counters_.sent},
                {"received", received_sent},
                {"lost", lost},
                {"lost_examples", std::move(lost_examples)},
                {"failed", counters_.failed},
                {"failed_by_code", failed_by_code_},
                {"unanswered", unanswered},
                {"received_unconfirmed", received_unconfirmed},
                {"media", media},
                {"raw_received", raw_received_},
                {"duplicates", duplicates},
                {"duplicates_same_session", dup_same_session_},
                {"duplicates_second_mid", dup_second_mid_},
                {"mid_conflicts", mid_conflicts_},
                {"sent_repeats", sent_repeats_},
                {"repeats", repeats_},
                {"repeats_after_ack", repeats_after_ack_},
                {"misdelivered", misdelivered_},
                {"stale", stale_messages_}};
  json receipts{{"delivered", counters_.delivered}, {"missing", receipts_missing},
                {"read", read_receipts_},           {"repeats", receipt_repeats_},
                {"unmatched", receipts_unmatched_}, {"misrouted", receipts_misrouted_}};
  json latency{{"send_to_sent", send_to_sent_.to_json(us_per_ms)},
               {"send_to_receive", send_to_receive_.to_json(us_per_ms)},
               {"send_to_delivered", send_to_delivered_.to_json(us_per_ms)},
               {"connect", connect_.to_json(us_per_ms)}};
  json connections{{"established", connects_}, {"failed", connect_failures_},
                   {"max_live", max_live_},    {"live", counters_.live},
                   {"closes", closes_},        {"connect_errors", connect_errors_},
                   {"refused", refused_}};
  json failures = json::array();
  auto fail_if = [&](uint64_t n, const char* what) {
    if (n > 0)
      failures.push_back(std::to_string(n) + " " + what);
  };
  fail_if(lost, "messages lost (sent but never received)");
  fail_if(duplicates, "messages duplicated");
  fail_if(mid_conflicts_, "cids confirmed with two different mids");
  fail_if(misdelivered_, "messages delivered to the wrong bot");
  fail_if(receipts_missing, "delivered receipts missing");
  fail_if(receipts_misrouted_, "receipts naming the wrong sender or reader");
  return json{{"messages", std::move(messages)},
              {"receipts", std::move(receipts)},
              {"latency_ms", std::move(latency)},
              {"connections", std::move(connections)},
              {"errors", errors_},
              {"counters", counts_},
              {"failures", std::move(failures)}};
}

} // namespace tidings::bots
