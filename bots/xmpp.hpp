#pragma once
// xmpp: the XMPP-over-WebSocket side of tidings-bots (RFC 7395), what is needed to measure an
// XMPP server (ejabberd) with the same scenarios and figures as a Tidings node.
//
// A bot session: WebSocket with subprotocol "xmpp" → <open/> → SASL PLAIN → <open/> again →
// resource bind → session → XEP-0198 stream management <enable/> → initial <presence/> (which
// also makes the server deliver what it stored offline). A text message is a <message
// type='chat'> whose body starts with the cid ("RUNID.N") and whose id is "RUNID.N.BOT" (the
// cid made unique in the run: XMPP has no server-assigned ids), carrying an XEP-0184
// <request/>; the recipient answers with <received id=ID/> (the delivered receipt), and reads
// with an XEP-0333 <displayed id=ID/> (the read receipt). XMPP has no `sent`: a
// stream-management <r/> follows each message and the server's <a h=N/> (it has handled the
// first N stanzas of this stream) plays its part. Users are registered in band (XEP-0077)
// before the run. docs/LOADTEST.md describes how the figures map.
//
// This header holds the stanza texts and their reading (pure functions, unit-tested); the
// actors are in xmpp_bot.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bots/xml.hpp"

namespace tidings::bots {

/// How to reach an XMPP server.
struct xmpp_options {
  std::string domain = "localhost"; ///< the XMPP domain (JIDs are USER@DOMAIN)
  std::string path = "/ws";         ///< the WebSocket endpoint's path
  std::string resource = "bot";     ///< bound by every bot
};

namespace xmpp {

constexpr const char* ns_framing = "urn:ietf:params:xml:ns:xmpp-framing";
constexpr const char* ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr const char* ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr const char* ns_sm = "urn:xmpp:sm:3";
constexpr const char* ns_receipts = "urn:xmpp:receipts";
constexpr const char* ns_markers = "urn:xmpp:chat-markers:0";
constexpr const char* ns_register = "jabber:iq:register";
constexpr const char* ns_ping = "urn:xmpp:ping";
constexpr const char* subprotocol = "xmpp";

// -- what a bot writes ----------------------------------------------------------

std::string open(std::string_view domain);
std::string close();
std::string auth_plain(std::string_view user, std::string_view password);
std::string bind(std::string_view resource);
std::string session();
std::string enable_sm();
std::string request_ack();
std::string answer_ack(uint64_t handled);
std::string presence();
std::string ping(std::string_view id);
/// <iq type='result'/> answering an iq the server sent.
std::string iq_result(std::string_view to, std::string_view id);
std::string register_user(std::string_view user, std::string_view password);
/// A chat message with an XEP-0184 receipt request.
std::string chat(std::string_view to, std::string_view id, std::string_view body);
/// The delivered receipt for message `id`.
std::string received(std::string_view to, std::string_view id);
/// The read marker (XEP-0333 displayed) for message `id`.
std::string displayed(std::string_view to, std::string_view id);

// -- reading what arrives -----------------------------------------------------------

/// base64 (RFC 4648, with padding), for SASL PLAIN.
std::string base64(std::string_view bytes);

/// "user" of "user@domain/resource" (or of "user@domain"); "" for a bare domain.
std::string_view local_part(std::string_view jid);
/// "user@domain" of "user@domain/resource".
std::string_view bare(std::string_view jid);

/// The condition of an error stanza or stream error: the name of the first child of its
/// <error/> (or of the element itself, for <stream:error/> and SASL <failure/>), e.g.
/// "service-unavailable"; "undefined-condition" if there is none.
std::string error_condition(const xml_element& e);

/// The number N of a message of this run: its id or body starts with "RUN_ID.N".
std::optional<uint32_t> run_number(std::string_view text, std::string_view run_id);

} // namespace xmpp
} // namespace tidings::bots
