#include "bots/summary.hpp"

#include <cstdio>
#include <sstream>

namespace tidings::bots {

using nlohmann::json;

namespace {

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

uint64_t u(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<uint64_t>() : 0;
}

double d(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

/// "a 3, b 4" from an object of counts, or "none".
std::string counts(const json& j) {
  std::string out;
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      out += (out.empty() ? "" : ", ") + key + " " + value.dump();
  return out.empty() ? "none" : out;
}

} // namespace

std::string render_summary(const json& r) {
  std::ostringstream out;
  const auto& m = r["messages"];
  const auto& t = r["throughput"];
  const auto& rc = r["receipts"];
  const auto& c = r["connections"];
  out << "tidings-bots: scenario " << r.value("scenario", "") << " (run " << r.value("run_id", "")
      << ") against " << r.value("url", "") << ", " << u(r, "bots") << " bots\n";
  out << "measured " << fixed(d(r["duration_s"], "measured")) << " s, drain "
      << fixed(d(r["duration_s"], "drain")) << " s"
      << (r.value("interrupted", false) ? " (interrupted)" : "") << "\n\n";

  out << "messages    sent " << u(m, "sent") << "  received " << u(m, "received") << "  lost "
      << u(m, "lost") << "  duplicates " << u(m, "duplicates") << "  repeats " << u(m, "repeats")
      << "  failed " << u(m, "failed") << "  unanswered " << u(m, "unanswered") << "\n";
  out << "            media " << u(m, "media") << "  stale " << u(m, "stale") << "  misdelivered "
      << u(m, "misdelivered") << "  mid conflicts " << u(m, "mid_conflicts")
      << "  received unconfirmed " << u(m, "received_unconfirmed") << "\n";
  if (m.contains("lost_examples"))
    for (std::size_t i = 0; i < m["lost_examples"].size() && i < 5; ++i) {
      const auto& e = m["lost_examples"][i];
      out << "            lost: " << e.value("from", "") << " -> " << e.value("to", "") << " cid "
          << e.value("cid", "") << " mid " << e.value("mid", "") << "\n";
    }
  out << "throughput  sent " << fixed(d(t, "sent_per_s")) << "/s  received "
      << fixed(d(t, "received_per_s")) << "/s  (peak " << u(t, "peak_sent_per_s") << "/s and "
      << u(t, "peak_received_per_s") << "/s)\n";
  out << "receipts    delivered " << u(rc, "delivered") << "  missing " << u(rc, "missing")
      << "  read " << u(rc, "read") << "  repeats " << u(rc, "repeats") << "\n\n";

  char line[160];
  std::snprintf(line, sizeof line, "%-18s %9s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count",
                "p50", "p90", "p99", "p99.9", "max", "mean");
  out << line;
  const std::pair<const char*, const char*> rows[] = {{"send -> sent", "send_to_sent"},
                                                      {"send -> receive", "send_to_receive"},
                                                      {"send -> delivered", "send_to_delivered"},
                                                      {"connect + auth", "connect"}};
  for (const auto& [label, key] : rows) {
    const auto& h = r["latency_ms"][key];
    std::snprintf(line, sizeof line, "%-18s %9llu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", label,
                  static_cast<unsigned long long>(u(h, "count")), d(h, "p50"), d(h, "p90"),
                  d(h, "p99"), d(h, "p999"), d(h, "max"), d(h, "mean"));
    out << line;
  }
  out << "\nconnections established " << u(c, "established") << "  failed " << u(c, "failed")
      << "  max live " << u(c, "max_live") << "  closes: " << counts(c["closes"]) << "\n";
  if (c.contains("connect_errors") && !c["connect_errors"].empty())
    out << "            connect errors: " << counts(c["connect_errors"]) << "\n";
  if (c.contains("refused") && !c["refused"].empty())
    out << "            refused (retried): " << counts(c["refused"]) << "\n";
  out << "errors      " << counts(r["errors"]) << "\n";
  out << "counters    " << counts(r["counters"]) << "\n";
  if (r.contains("phases") && !r["phases"].empty()) {
    out << "\nphase                 action         start    length      sent  received   sent/s\n";
    for (const auto& p : r["phases"]) {
      std::snprintf(line, sizeof line, "%-21.21s %-12.12s %7.1fs %8.1fs %9llu %9llu %8.1f\n",
                    p.value("name", "").c_str(), p.value("action", "").c_str(), d(p, "start_s"),
                    d(p, "duration_s"), static_cast<unsigned long long>(u(p, "sent")),
                    static_cast<unsigned long long>(u(p, "received")), d(p, "sent_per_s"));
      out << line;
    }
  }
  out << "\n";
  if (r.value("ok", false)) {
    out << "RESULT: PASS\n";
  } else {
    out << "RESULT: FAIL";
    std::string sep = ": ";
    for (const auto& f : r["failures"]) {
      out << sep << f.get<std::string>();
      sep = "; ";
    }
    out << "\n";
  }
  return out.str();
}

} // namespace tidings::bots
