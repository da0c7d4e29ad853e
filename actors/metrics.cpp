#include "actors/metrics.hpp"

namespace tidings {

namespace {

template <class T>
void line(std::string& out, const char* name, const char* type, const char* help, const T& value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value.load(std::memory_order_relaxed));
  out += '\n';
}

} // namespace

std::string node_metrics::render() const {
  std::string out;
  line(out, "tidings_sessions_opened_total", "counter", "WebSocket sessions opened.",
       sessions_opened);
  line(out, "tidings_sessions_live", "gauge", "WebSocket sessions open now.", sessions_live);
  line(out, "tidings_frames_received_total", "counter", "Client frames received.", frames_in);
  line(out, "tidings_messages_stored_total", "counter", "Messages durably stored in inboxes.",
       messages_stored);
  line(out, "tidings_messages_deduplicated_total", "counter",
       "Sends answered from a dedupe record.", messages_deduplicated);
  line(out, "tidings_messages_blocked_total", "counter",
       "Sends answered sent but not stored (recipient blocked the sender).", messages_blocked);
  line(out, "tidings_receipts_stored_total", "counter", "Receipt items stored.", receipts_stored);
  line(out, "tidings_items_acked_total", "counter", "Inbox items removed by acks.", items_acked);
  line(out, "tidings_inboxes_live", "gauge", "Inbox actors running.", inboxes_live);
  line(out, "tidings_storage_errors_total", "counter", "RocksDB reads or writes that failed.",
       storage_errors);
  line(out, "tidings_read_receipts_failed_total", "counter",
       "Read receipts that could not be stored (the client may read again).", read_receipts_failed);
  line(out, "tidings_connections_refused_total", "counter",
       "TCP connections refused past the connection limits (total or per address).",
       connections_refused);
  line(out, "tidings_frames_paused_total", "counter",
       "Times a connection stopped reading until its session caught up.", frames_paused);
  line(out, "tidings_overload_refusals_total", "counter",
       "Requests refused by a service whose queue was full.", overload_refusals);
  line(out, "tidings_handoff_queued", "gauge",
       "Sends kept here for home nodes that were down, not yet replayed.", handoff_queued);
  line(out, "tidings_handoff_replayed_total", "counter",
       "Handoff sends delivered to their home node.", handoff_replayed);
  line(out, "tidings_handoff_dropped_total", "counter",
       "Handoff sends dropped at replay: the recipient does not exist.", handoff_dropped);
  out += "# HELP tidings_errors_total Error frames sent, by code.\n"
         "# TYPE tidings_errors_total counter\n";
  for (uint8_t code = static_cast<uint8_t>(errc::bad_request);
       code <= static_cast<uint8_t>(errc::user_exists); ++code) {
    out += "tidings_errors_total{code=\"";
    out += to_string(static_cast<errc>(code));
    out += "\"} ";
    out += std::to_string(errors[code].load(std::memory_order_relaxed));
    out += '\n';
  }
  return out;
}

} // namespace tidings
