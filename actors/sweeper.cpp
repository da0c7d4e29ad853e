#include "actors/sweeper.hpp"

#include "actors/inbox.hpp"
#include "actors/messages.hpp"
#include "net/codec.hpp"

namespace tidings {

std::size_t sweeper_state::step_table(storage::table t, std::string& from, std::size_t batch,
                                      const std::function<bool(std::string_view)>& expired) {
  storage::batch gone;
  std::size_t seen = 0;
  std::string last;
  ctx->store->scan(t, from, std::string(1, '\xff'), batch,
                   [&](std::string_view key, std::string_view value) {
                     ++seen;
                     last = std::string{key};
                     if (expired(value))
                       gone.del(t, key);
                     return true;
                   });
  // Resume after the last key seen, or start over once the table is done.
  from = seen < batch ? std::string{} : last + '\0';
  auto deleted = gone.count();
  if (deleted > 0)
    ctx->store->write(gone);
  return deleted;
}

std::size_t sweeper_state::step(std::size_t batch) {
  auto now = ctx->now();
  auto dedupe_cutoff = now - ctx->settings.dedupe_retention_ms;
  auto received_cutoff = now - ctx->settings.read_receipt_retention_ms;
  return step_table(storage::table::dedupe, cursor, batch,
                    [dedupe_cutoff](std::string_view value) {
                      auto rec = net::decode(value, net::encoding::msgpack, nullptr);
                      return !rec || rec->value("ts", int64_t{0}) < dedupe_cutoff;
                    }) +
         step_table(storage::table::received, received_cursor, batch,
                    [received_cutoff](std::string_view value) {
                      return received_time(value) < received_cutoff;
                    });
}

caf::behavior sweeper_actor(caf::stateful_actor<sweeper_state>* self, const node_context* ctx) {
  self->state.ctx = ctx;
  auto period = std::chrono::milliseconds(ctx->settings.sweep_interval_ms);
  self->delayed_send(self, period, atom::timer::value);
  return {
      [self, period](atom::timer) {
        self->state.step(10'000);
        self->delayed_send(self, period, atom::timer::value);
      },
  };
}

} // namespace tidings
