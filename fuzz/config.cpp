// Fuzz target `config`: the bytes are a tidings-node configuration file (`--config-file`). It
// is read into the node's configuration as tidings-node reads it (the strict INI reader of
// config/tool_config and the node's typed options), then turned into the node's options with the
// node's own checks (node_options_of). The TLS files it may name are not opened.
//
// tidings-node keeps its configuration type in tools/tidings_node.cpp; that file is included
// here without its main() rather than moved, so the node's options stay in one place.

#pragma GCC diagnostic ignored "-Wunused-function" // the node's TLS checks are not called here
#define TIDINGS_NODE_NO_MAIN
#include "tools/tidings_node.cpp"

#include "fuzz/targets.hpp"

namespace tidings::fuzz {

namespace {

// Debian's CAF is built with g++. A clang-built program that adds options of a type CAF's own
// options also use (size_t, bool, std::string, ...) holds its own copy of that type's option
// table (a function-local static of an inline CAF template), which clang fills on first use
// rather than at load time; the dynamic linker hands that copy to CAF too, so CAF's own
// options find it empty and crash (config_option::check calls a null pointer) the first time
// a configuration is built. Using each type once at start-up fills the copies first. The
// node's sanitizer builds use g++, where this does not arise.
template <class... Ts> bool fill_option_tables() {
  (caf::detail::option_meta_state_instance<Ts>(), ...);
  return true;
}
const bool option_tables_filled =
    fill_option_tables<bool, uint16_t, uint32_t, std::size_t, double, std::string>();

} // namespace

int config(const uint8_t* data, std::size_t size) {
  node_config cfg;
  auto errors = cfg.read_text(std::string{reinterpret_cast<const char*>(data), size}, "fuzz.ini");
  if (!errors.empty())
    return 0;
  tidings::node_options opts;
  auto why = node_options_of(cfg, opts);
  require(!why.empty() || cfg.cluster_node_id.empty() ||
              tidings::cluster::valid_node_id(opts.cluster.node_id),
          "an accepted cluster configuration has a valid node id");
  return 0;
}

} // namespace tidings::fuzz
