#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "actors/inbox.hpp"
#include "actors/sweeper.hpp"
#include "net/codec.hpp"

using namespace tidings;

TEST_CASE("the sweeper expires old dedupe and received records in bounded steps") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tidings-sweep-XXXXXX").string();
  std::filesystem::path dir = ::mkdtemp(tmpl.data());
  {
    auto store = storage::db::open({dir.string(), false});
    int64_t now = 100LL * 24 * 3600 * 1000;
    node_context ctx;
    ctx.store = store.get();
    ctx.now = [&now] { return now; };
    storage::batch b;
    for (int i = 0; i < 30; ++i) {
      auto ts = i % 2 == 0 ? now - ctx.settings.dedupe_retention_ms - 1 : now; // even: expired
      b.put(storage::table::dedupe, dedupe_key("alice", "c" + std::to_string(i)),
            net::encode(net::json{{"mid", "m"}, {"ts", ts}}, net::encoding::msgpack));
      auto delivered = i % 3 == 0 ? now - ctx.settings.read_receipt_retention_ms - 1 : now;
      b.put(storage::table::received, "bob" + std::string(1, '\0') + "m" + std::to_string(i),
            received_value("alice", delivered));
    }
    REQUIRE(store->write(b).ok());
    sweeper_state sweeper;
    sweeper.ctx = &ctx;
    std::size_t deleted = 0;
    for (int step = 0; step < 5; ++step) // steps of 8 records: the cursor walks the tables
      deleted += sweeper.step(8);
    CHECK(deleted == 15 + 10);
    CHECK_FALSE(store->get(storage::table::dedupe, dedupe_key("alice", "c0")).found());
    CHECK(store->get(storage::table::dedupe, dedupe_key("alice", "c1")).found());
    auto kept = store->get(storage::table::received, "bob" + std::string(1, '\0') + "m1");
    REQUIRE(kept.found());
    CHECK(received_sender(kept.value()) == "alice");
    CHECK(received_time(kept.value()) == now);
    CHECK_FALSE(store->get(storage::table::received, "bob" + std::string(1, '\0') + "m3").found());
  }
  std::filesystem::remove_all(dir);
}
