#pragma once
// The commands of tidings-cli that live outside tidings_cli.cpp (each returns an exit status).

#include "tools/cli_common.hpp"

namespace tidings::cli {

/// `chat USER`: an interactive conversation with USER (tools/cli_chat.cpp).
int cmd_chat(const options& opts);

/// `profile [--name=TEXT] [--about=TEXT] [USER]` (tools/cli_social.cpp).
int cmd_profile(const options& opts);

/// `presence USER`.
int cmd_presence(const options& opts);

/// `contacts [add USER | remove USER]`.
int cmd_contacts(const options& opts);

/// `block USER` and `unblock USER` (opts.args[0] says which); `blocked` lists them.
int cmd_block(const options& opts);

} // namespace tidings::cli
