// The XMPP driver's pieces without a server: reading stanzas (bots/xml) and writing and reading
// them (bots/xmpp).

#include <doctest/doctest.h>

#include "bots/xml.hpp"
#include "bots/xmpp.hpp"

using namespace tidings::bots;

TEST_CASE("a stanza is read into elements, attributes and text with prefixes kept") {
  auto e = parse_xml("<message xmlns='jabber:client' from='a@localhost/bot' id='x.1' type='chat'>"
                     "<request xmlns='urn:xmpp:receipts'/><body>x.1 a &amp; b &lt;c&gt;</body>"
                     "</message>");
  REQUIRE(e);
  CHECK(e->name == "message");
  CHECK(e->attr_or_empty("from") == "a@localhost/bot");
  CHECK(e->attr("missing") == nullptr);
  REQUIRE(e->children.size() == 2);
  REQUIRE(e->child("body") != nullptr);
  CHECK(e->child("body")->text == "x.1 a & b <c>");
  CHECK(e->child("request", "urn:xmpp:receipts") != nullptr);
  CHECK(e->child("request", "urn:other") == nullptr);

  auto f = parse_xml("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
                     "<mechanisms><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
  REQUIRE(f);
  CHECK(f->name == "stream:features");
  CHECK(f->local() == "features");
  CHECK(f->child("mechanisms")->children.at(0).text == "PLAIN");
}

TEST_CASE("what is not one well-formed element is refused with a reason") {
  std::string why;
  CHECK_FALSE(parse_xml("<a><b></a>", &why));
  CHECK(!why.empty());
  CHECK_FALSE(parse_xml("", &why));
  CHECK_FALSE(parse_xml("<a/><b/>", &why));
  CHECK_FALSE(parse_xml("just text", &why));
  CHECK_FALSE(parse_xml("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", &why));
  std::string deep;
  for (std::size_t i = 0; i <= max_xml_depth; ++i)
    deep += "<a>";
  for (std::size_t i = 0; i <= max_xml_depth; ++i)
    deep += "</a>";
  CHECK_FALSE(parse_xml(deep, &why));
  CHECK(why == "nested too deeply");
  // The reused per-thread parser is clean after a failure.
  CHECK(parse_xml("<ok/>"));
}

TEST_CASE("written stanzas escape what they carry and read back") {
  auto text = xmpp::chat("b@localhost", "r1.7", "r1.7 <tag> & 'q' \"qq\"");
  auto e = parse_xml(text);
  REQUIRE(e);
  CHECK(e->attr_or_empty("type") == "chat");
  CHECK(e->attr_or_empty("to") == "b@localhost");
  CHECK(e->attr_or_empty("id") == "r1.7");
  CHECK(e->child("body")->text == "r1.7 <tag> & 'q' \"qq\"");
  CHECK(e->child("request", xmpp::ns_receipts) != nullptr);

  auto r = parse_xml(xmpp::received("a@localhost", "r1.7"));
  REQUIRE(r);
  CHECK(r->child("received", xmpp::ns_receipts)->attr_or_empty("id") == "r1.7");
  auto d = parse_xml(xmpp::displayed("a@localhost", "r1.7"));
  CHECK(d->child("displayed", xmpp::ns_markers)->attr_or_empty("id") == "r1.7");
  CHECK(parse_xml(xmpp::answer_ack(42))->attr_or_empty("h") == "42");
  for (const auto& s : {xmpp::open("localhost"), xmpp::close(), xmpp::bind("bot"), xmpp::session(),
                        xmpp::enable_sm(), xmpp::request_ack(), xmpp::presence(), xmpp::ping("p"),
                        xmpp::iq_result("localhost", "i"), xmpp::register_user("u&", "p<")})
    CHECK_MESSAGE(parse_xml(s), s);
}

TEST_CASE("SASL PLAIN carries base64 of NUL user NUL password") {
  CHECK(xmpp::base64("") == "");
  CHECK(xmpp::base64("f") == "Zg==");
  CHECK(xmpp::base64("fo") == "Zm8=");
  CHECK(xmpp::base64("foo") == "Zm9v");
  CHECK(xmpp::base64("foobar") == "Zm9vYmFy");
  CHECK(xmpp::base64(std::string{"\xff\xfe", 2}) == "//4=");
  auto auth = parse_xml(xmpp::auth_plain("alice", "pw"));
  REQUIRE(auth);
  CHECK(auth->attr_or_empty("mechanism") == "PLAIN");
  CHECK(auth->text == xmpp::base64(std::string{"\0alice\0pw", 9}));
}

TEST_CASE("JIDs, error conditions and run numbers are read") {
  CHECK(xmpp::bare("a@localhost/bot") == "a@localhost");
  CHECK(xmpp::bare("a@localhost") == "a@localhost");
  CHECK(xmpp::local_part("a@localhost/bot") == "a");
  CHECK(xmpp::local_part("localhost") == "");
  CHECK(xmpp::local_part("localhost/x@y") == "");

  auto err = parse_xml("<message type='error' id='r.3'><error type='cancel'><text>why</text>"
                       "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                       "</error></message>");
  CHECK(xmpp::error_condition(*err) == "service-unavailable");
  auto sasl = parse_xml("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/>"
                        "<text>no</text></failure>");
  CHECK(xmpp::error_condition(*sasl) == "not-authorized");
  CHECK(xmpp::error_condition(*parse_xml("<error/>")) == "undefined-condition");

  CHECK(xmpp::run_number("abc123.42 xxx", "abc123") == 42u);
  CHECK(xmpp::run_number("abc123.42", "abc123") == 42u);
  CHECK_FALSE(xmpp::run_number("abc124.42", "abc123"));
  CHECK_FALSE(xmpp::run_number("abc123.", "abc123"));
  CHECK_FALSE(xmpp::run_number("abc123x42", "abc123"));
  CHECK_FALSE(xmpp::run_number("abc123.99999999999", "abc123"));
  CHECK_FALSE(xmpp::run_number("abc123.4294967296", "abc123"));
  CHECK(xmpp::run_number("abc123.4294967295", "abc123") == 4294967295u);
}
