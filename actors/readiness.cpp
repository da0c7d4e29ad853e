#include "actors/readiness.hpp"

#include <nlohmann/json.hpp>

namespace tidings {

namespace {

/// The probe's key: the empty user's inbox metadata, which no user can have (names are never
/// empty) and nothing reads. Each probe overwrites it with the time.
constexpr std::string_view probe_key = "";

} // namespace

readiness::readiness(storage::group_writer* writer, const cluster::view* cluster, clock_fn now,
                     int64_t form_timeout_ms)
    : writer_(writer), cluster_(cluster), now_(std::move(now)), form_timeout_ms_(form_timeout_ms) {}

void readiness::started() {
  started_ms_ = now_();
}

std::vector<std::string> readiness::other_reasons() {
  std::vector<std::string> out;
  if (draining_)
    out.emplace_back("draining: the node is stopping");
  if (cluster_ != nullptr && !formed_) {
    std::string missing;
    for (const auto& m : cluster_->status())
      if (!m.address.empty() && !m.up)
        missing += (missing.empty() ? "" : ", ") + m.id;
    auto waited = now_() - started_ms_.load();
    if (missing.empty() || waited >= form_timeout_ms_)
      formed_ = true;
    else
      out.push_back("cluster forming: waiting for " + missing + " (at most " +
                    std::to_string(form_timeout_ms_ / 1000) + " s after the start)");
  }
  return out;
}

void readiness::check(answer_fn done) {
  auto reasons = other_reasons();
  if (draining_) // no need to look further: the node is going away
    return done({false, std::move(reasons)});
  std::unique_lock<std::mutex> lock{mutex_};
  if (!probing_ && probed_at_ms_ != 0 && now_() - probed_at_ms_ < probe_reuse.count()) {
    if (storage_error_)
      reasons.push_back("storage: " + *storage_error_);
    lock.unlock();
    return done({reasons.empty(), std::move(reasons)});
  }
  waiting_.push_back(std::move(done));
  if (probing_)
    return;
  probing_ = true;
  lock.unlock();
  storage::batch b;
  b.put(storage::table::inbox_meta, probe_key, storage::be64(static_cast<uint64_t>(now_())));
  writer_->submit(std::move(b), [this](const storage::status& st) { probe_done(st); });
}

void readiness::probe_done(const storage::status& st) {
  std::vector<answer_fn> waiting;
  {
    std::lock_guard<std::mutex> guard{mutex_};
    probing_ = false;
    probed_at_ms_ = now_();
    storage_error_ = st.ok() ? std::nullopt : std::optional<std::string>{st.error};
    waiting.swap(waiting_);
  }
  auto reasons = other_reasons();
  if (!st.ok())
    reasons.push_back("storage: " + st.error);
  verdict v{reasons.empty(), std::move(reasons)};
  for (auto& done : waiting)
    done(v);
}

std::string readiness::body(const verdict& v) {
  nlohmann::json j;
  j["status"] = v.ready ? "ready" : "not ready";
  if (!v.ready)
    j["reasons"] = v.reasons;
  return j.dump();
}

} // namespace tidings
