// SPDX-License-Identifier: Apache-2.0
// examples/gateway's config file parser (gateway_config.hpp): every key,
// the defaults, one case per kind of error with its line, the quoting rules,
// the sample configs, and a mutation loop for robustness.
#include "gateway_config.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

using gateway::ConnectionConfig;
using gateway::GatewayConfig;
using gateway::parse_config;
using namespace std::chrono_literals;

namespace {

// A connection with only the required keys, after `before` (lines 1-...).
std::string minimal(std::string_view before = "", std::string_view extra = "") {
  std::string s(before);
  s += "[connection to-b]\n"
       "local_addrs = 10.0.0.1\n"
       "remote_addrs = 10.0.0.2\n"
       "local_id = fqdn:a.example.test\n"
       "remote_id = fqdn:b.example.test\n"
       "psk = secret\n"
       "local_ts = 10.1.1.0/24\n"
       "remote_ts = 10.1.2.0/24\n";
  s += extra;
  return s;
}

std::string error_of(std::string_view text) {
  std::string error;
  auto c = parse_config(text, error);
  CHECK_MESSAGE(!c, text);
  return error;
}

std::string prefix_text(const ipsec::IpPrefix& p) { return std::string(p.to_text().view()); }
std::string address_text(const ipsec::IpAddress& a) { return std::string(a.to_text().view()); }

// has_line_number: "LINE: message" with LINE >= 1.
bool has_line_number(const std::string& e) {
  size_t i = 0;
  while (i < e.size() && std::isdigit(static_cast<unsigned char>(e[i]))) ++i;
  return i > 0 && e[0] != '0' && e.compare(i, 2, ": ") == 0 && e.size() > i + 2;
}

}  // namespace

TEST_CASE("gateway config: a full file, field by field") {
  const char* text = R"(# full
[gateway]
tun = gw0
mtu = 1420
routes = no
cert = /etc/gw/a.pem
key = /etc/gw/a.key
cert_chain = int1.pem, int2.pem
ca = ca1.pem,ca2.pem
rsa_pss = yes
key_export = /tmp/keys
retransmit_timeout = 500ms
retransmit_base = 1.5
retransmit_tries = 7
log = debug

[connection to-b]
local_addrs = 10.0.0.1
remote_addrs = 10.0.0.2
local_id = fqdn:a.example.test
remote_id = fqdn:b.example.test
auth = psk
psk = "correct horse battery staple"
proposals = aes256gcm16-prfsha256-x25519, aes128gcm16-prfsha256-ecp256
esp_proposals = aes256gcm16-x25519,aes128gcm16
local_ts = 10.1.1.0/24, 10.1.3.0/24
remote_ts = 10.1.2.0/24
mode = tunnel
start_action = start
rekey_time = 5m
life_time = 6m
rekey_bytes = 500k
life_bytes = 1G
rekey_packets = 1000
life_packets = 2M
rand_time = 0.25
ike_rekey_time = 1.5h
reauth_time = 2d
dpd_delay = 90
dpd_action = restart

[connection two]
local_addrs = 10.0.0.1
remote_addrs = %any
local_id = a.example.test
remote_id = *.example.test
auth = pubkey
local_ts = 10.1.1.0/24
remote_ts = 10.9.0.0/16
)";
  std::string error;
  auto c = parse_config(text, error);
  REQUIRE_MESSAGE(c, error);
  CHECK(error.empty());
  CHECK(c->tun == "gw0");
  CHECK(c->mtu == 1420);
  CHECK_FALSE(c->routes);
  CHECK(c->cert == "/etc/gw/a.pem");
  CHECK(c->key == "/etc/gw/a.key");
  CHECK(c->cert_chain == std::vector<std::string>{"int1.pem", "int2.pem"});
  CHECK(c->ca == std::vector<std::string>{"ca1.pem", "ca2.pem"});
  CHECK(c->rsa_pss);
  CHECK(c->key_export == "/tmp/keys");
  CHECK(c->retransmit.initial == 500ms);
  CHECK(c->retransmit.base == doctest::Approx(1.5));
  CHECK(c->retransmit.tries == 7);
  CHECK(c->log == ipsec::ike::LogLevel::debug);
  REQUIRE(c->connections.size() == 2);

  const ConnectionConfig& b = c->connections[0];
  CHECK(b.name == "to-b");
  CHECK(b.line == 17);
  CHECK(address_text(b.local) == "10.0.0.1");
  REQUIRE(b.remote);
  CHECK(address_text(*b.remote) == "10.0.0.2");
  CHECK(b.local_id == "fqdn:a.example.test");
  CHECK(b.remote_id == "fqdn:b.example.test");
  CHECK(b.auth == ConnectionConfig::Auth::psk);
  CHECK(b.psk == "correct horse battery staple");
  CHECK(b.proposals == "aes256gcm16-prfsha256-x25519,aes128gcm16-prfsha256-ecp256");
  CHECK(b.esp_proposals == "aes256gcm16-x25519,aes128gcm16");
  REQUIRE(b.local_ts.size() == 2);
  CHECK(prefix_text(b.local_ts[0]) == "10.1.1.0/24");
  CHECK(prefix_text(b.local_ts[1]) == "10.1.3.0/24");
  REQUIRE(b.remote_ts.size() == 1);
  CHECK(prefix_text(b.remote_ts[0]) == "10.1.2.0/24");
  CHECK(b.start_action == ConnectionConfig::StartAction::start);
  CHECK(b.rekey_time == 5min);
  CHECK(b.life_time == 6min);
  CHECK(b.rekey_bytes == 500000);
  CHECK(b.life_bytes == 1000000000);
  CHECK(b.rekey_packets == 1000);
  CHECK(b.life_packets == 2000000);
  CHECK(b.rand_time == doctest::Approx(0.25));
  CHECK(b.ike_rekey_time == 90min);
  CHECK(b.reauth_time == 48h);
  CHECK(b.dpd_delay == 90s);
  CHECK(b.dpd_action == ipsec::ike::DpdAction::restart);
  auto proposals = ipsec::ike::parse_proposals(b.proposals, ipsec::wire::ProtocolId::ike);
  REQUIRE(proposals);
  CHECK(proposals->size() == 2);

  const ConnectionConfig& two = c->connections[1];
  CHECK(two.name == "two");
  CHECK(two.line == 42);
  CHECK_FALSE(two.remote);
  CHECK(two.auth == ConnectionConfig::Auth::pubkey);
  CHECK(two.psk.empty());
  // Bare identities are guessed as strongSwan does.
  auto id = gateway::identity_of(two.local_id);
  REQUIRE(id);
  CHECK(id->type == ipsec::wire::IdType::fqdn);
  auto pattern = gateway::id_pattern_of(two.remote_id);
  REQUIRE(pattern);
  CHECK(pattern->kind() == ipsec::sa::IdPattern::Kind::fqdn);
  const std::string_view gw = "gw.example.test";
  CHECK(pattern->matches(ipsec::wire::IdType::fqdn,
                         ipsec::ByteView(reinterpret_cast<const uint8_t*>(gw.data()), gw.size())));
}

TEST_CASE("gateway config: defaults") {
  std::string error;
  auto c = parse_config(minimal(), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->tun == "ipsec0");
  CHECK(c->mtu == 1400);
  CHECK(c->routes);
  CHECK(c->cert.empty());
  CHECK(c->key.empty());
  CHECK(c->cert_chain.empty());
  CHECK(c->ca.empty());
  CHECK_FALSE(c->rsa_pss);
  CHECK(c->key_export.empty());
  CHECK(c->retransmit.initial == 4s);
  CHECK(c->retransmit.base == doctest::Approx(1.8));
  CHECK(c->retransmit.tries == 5);
  CHECK(c->log == ipsec::ike::LogLevel::info);
  REQUIRE(c->connections.size() == 1);
  const ConnectionConfig& b = c->connections[0];
  CHECK(b.line == 1);
  CHECK(b.auth == ConnectionConfig::Auth::psk);
  CHECK(b.proposals == "aes256gcm16-prfsha256-x25519");
  CHECK(b.esp_proposals == "aes256gcm16");
  CHECK(b.start_action == ConnectionConfig::StartAction::none);
  CHECK(b.rekey_time == 1h);
  CHECK(b.life_time == 66min);
  CHECK(b.ike_rekey_time == 4h);
  CHECK(b.reauth_time == 0s);
  CHECK(b.dpd_delay == 30s);
  CHECK(b.dpd_action == ipsec::ike::DpdAction::clear);
  CHECK(b.rand_time == doctest::Approx(0.1));
  CHECK(b.rekey_bytes == 0);
  CHECK(b.life_bytes == 0);
  CHECK(b.rekey_packets == 0);
  CHECK(b.life_packets == 0);

  // life_time follows rekey_time (x 1.1, in milliseconds) unless given.
  c = parse_config(minimal("", "rekey_time = 1234567ms\n"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].life_time == 1358024ms);
  c = parse_config(minimal("", "rekey_time = 0\n"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].life_time == 0s);
  c = parse_config(minimal("", "rekey_time = 1ms\n"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].life_time == 2ms);
  c = parse_config(minimal("", "rekey_time = 10m\nlife_time = 0\n"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].life_time == 0s);

  // auth = pubkey is checked against [gateway] at the end of the file.
  c = parse_config(minimal("", "auth = pubkey\n[gateway]\ncert = a.pem\nkey = a.key\nca = ca.pem\n"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].auth == ConnectionConfig::Auth::pubkey);
}

TEST_CASE("gateway config: durations and counts") {
  struct Case {
    const char* text;
    ipsec::Duration want;
  };
  for (const Case& k : {Case{"90", 90s}, Case{"90s", 90s}, Case{"5m", 5min}, Case{"1h", 1h},
                        Case{"1.5h", 90min}, Case{"2d", 48h}, Case{"500ms", 500ms}, Case{"0", 0s},
                        Case{"0.5s", 500ms}, Case{".5m", 30s}, Case{"3650d", 3650 * 24h}}) {
    std::string error;
    auto c = parse_config(minimal("", std::string("dpd_delay = ") + k.text + "\n"), error);
    REQUIRE_MESSAGE(c, error);
    CHECK_MESSAGE(c->connections[0].dpd_delay == k.want, k.text);
  }
  for (const char* bad :
       {"5x", "-1", "1.", "1.2.3", "h", "1 h", "1e3", "0x10", "inf", "1.0000000001s", "1H"}) {
    const std::string e = error_of(minimal("", std::string("dpd_delay = ") + bad + "\n"));
    CHECK_MESSAGE(
        e == "9: dpd_delay: \"" + std::string(bad) + "\" is not a duration (90, 90s, 5m, 1h, 2d, 500ms)", e);
  }
  CHECK(error_of(minimal("", "dpd_delay = 3651d\n")) ==
        "9: dpd_delay: \"3651d\" is too long (at most 3650d)");
  CHECK(error_of(minimal("", "dpd_delay = 99999999999999999999999d\n")) ==
        "9: dpd_delay: \"99999999999999999999999d\" is not a duration (90, 90s, 5m, 1h, 2d, 500ms)");

  std::string error;
  auto c = parse_config(minimal("", "life_bytes = 18446744073709551615\nlife_packets = 18446744073709551k\n"),
                        error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].life_bytes == UINT64_MAX);
  CHECK(c->connections[0].life_packets == 18446744073709551000u);
  for (const char* bad : {"18446744073709551616", "18446744073709552k", "1.5k", "k", "-1", "1T", "1 k"}) {
    const std::string e = error_of(minimal("", std::string("rekey_bytes = ") + bad + "\n"));
    CHECK_MESSAGE(e.find("9: rekey_bytes: \"") == 0, e);
    CHECK_MESSAGE(e.find("is not a count") != std::string::npos, e);
  }
}

TEST_CASE("gateway config: each kind of error, with its line") {
  struct Case {
    std::string text;
    std::string want;
  };
  const std::string gw = "[gateway]\n";
  const Case cases[] = {
      {"", "1: no [connection NAME] section: a gateway needs at least one connection"},
      {"[gateway]\n\n# nothing\n",
       "3: no [connection NAME] section: a gateway needs at least one connection"},
      {"tun = x\n", "1: tun: key outside a section (start with [gateway] or [connection NAME])"},
      {"[gateway\n", "1: missing \"]\" in the section header"},
      {"[gateway] x\n", "1: text after the section header: \"x\""},
      {"[gateway] # fine\n[gateway]\n", "2: [gateway] given twice (first on line 1)"},
      {"[gw]\n", "1: unknown section [gw] (expected [gateway] or [connection NAME])"},
      {"[connection]\n", "1: [connection NAME]: the connection needs a name"},
      {"[connection a b]\n", "1: connection name \"a b\": only letters, digits, '_', '.' and '-'"},
      {minimal() + minimal(), "9: connection \"to-b\" already defined on line 1"},
      {gw + "= x\n", "2: expected \"key = value\", \"[gateway]\" or \"[connection NAME]\", not \"= x\""},
      {gw + "tun x\n", "2: tun: expected \"=\" after the key (key = value)"},
      {gw + "tun =\n", "2: tun: missing value"},
      {gw + "tun = # comment\n", "2: tun: missing value"},
      {gw + "tun = \"gw0\n", "2: tun: missing closing quote"},
      {gw + "tun = \"gw0\" x\n", "2: tun: text after the closing quote: \"x\""},
      {gw + "tun = \"g\\nw\"\n", "2: tun: unknown escape \"\\n\" in a quoted value (only \\\" and \\\\)"},
      {gw + "tun = g\"w\n", "2: tun: a quote inside an unquoted value (quote the whole value)"},
      {gw + "tun = a\x01\n", "2: control character 0x01 in the line"},
      {gw + "tunnel = x\n", "2: unknown key \"tunnel\" in [gateway]"},
      {gw + "psk = x\n", "2: unknown key \"psk\" in [gateway] (it belongs in a [connection NAME] section)"},
      {minimal("", "tun = gw0\n"), "9: unknown key \"tun\" in [connection to-b] (it belongs in [gateway])"},
      {gw + "tun = a\ntun = b\n", "3: tun given twice (first on line 2)"},
      {minimal("", "psk = again\n"), "9: psk given twice (first on line 6)"},
      {gw + "tun = a/b\n", "2: tun: \"a/b\" is not an interface name (up to 15 of A-Z a-z 0-9 _ . -)"},
      {gw + "tun = abcdefghijklmnop\n",
       "2: tun: \"abcdefghijklmnop\" is not an interface name (up to 15 of A-Z a-z 0-9 _ . -)"},
      {gw + "mtu = 575\n", "2: mtu: \"575\" is not an MTU in [576, 65535]"},
      {gw + "mtu = 65536\n", "2: mtu: \"65536\" is not an MTU in [576, 65535]"},
      {gw + "routes = maybe\n", "2: routes: \"maybe\" is not yes or no"},
      {gw + "ca = a.pem,,b.pem\n", "2: ca: \"a.pem,,b.pem\" has an empty item in its list"},
      {gw + "retransmit_timeout = 0\n", "2: retransmit_timeout: \"0\" must not be 0"},
      {gw + "retransmit_base = 0.9\n", "2: retransmit_base: \"0.9\" is not a factor in [1, 100] (1.8)"},
      {gw + "retransmit_tries = 1001\n", "2: retransmit_tries: \"1001\" is not a whole number in [0, 1000]"},
      {gw + "retransmit_tries = 2.5\n", "2: retransmit_tries: \"2.5\" is not a whole number in [0, 1000]"},
      {gw + "log = trace\n", "2: log: \"trace\" is not info or debug"},
      {"[connection c]\nmode = tunnel\n",
       "1: connection \"c\": missing local_addrs, remote_addrs, local_id, "
       "remote_id, local_ts, remote_ts"},
      {minimal("", "mode = transport\n"),
       "9: mode: transport is refused: the gateway carries tunnel mode only"},
      {minimal("", "mode = beet\n"), "9: mode: \"beet\" is not tunnel"},
      {minimal("", "auth = eap\n"), "9: auth: \"eap\" is not psk or pubkey"},
      {minimal("", "start_action = route\n"), "9: start_action: \"route\" is not none, start or trap"},
      {minimal("", "dpd_action = reset\n"), "9: dpd_action: \"reset\" is not clear, hold or restart"},
      {minimal("", "rand_time = 1\n"),
       "9: rand_time: \"1\" is not a fraction in [0, 1) (0.1: up to 10 % earlier)"},
      {minimal("", "rekey_time = 10m\nlife_time = 10m\n"),
       "10: connection \"to-b\": life_time must be longer "
       "than rekey_time"},
      {minimal("", "life_bytes = 1k\nrekey_bytes = 1000\n"),
       "9: connection \"to-b\": life_bytes must be "
       "larger than rekey_bytes"},
      {minimal("", "life_packets = 1\nrekey_packets = 2\n"),
       "9: connection \"to-b\": life_packets must be "
       "larger than rekey_packets"},
      {"[connection c]\nlocal_addrs = 10.0.0.1\nremote_addrs = 2001:db8::1\nlocal_id = a\nremote_id = b\n"
       "psk = s\nlocal_ts = 10.1.0.0/16\nremote_ts = 10.2.0.0/16\n",
       "3: connection \"c\": local_addrs and remote_addrs are of different IP versions"},
      {minimal("", "remote_addrs = 10.0.0.3\n"), "9: remote_addrs given twice (first on line 3)"},
      {"[connection c]\nlocal_addrs = 10.0.0.1\nremote_addrs = %any\nlocal_id = a\nremote_id = b\n"
       "psk = s\nlocal_ts = 10.1.0.0/16\nremote_ts = 10.2.0.0/16\nstart_action = trap\n",
       "9: connection \"c\": start_action = start or trap needs a remote_addrs address, not %any"},
      {"[connection c]\nlocal_addrs = 10.0.0.1\nremote_addrs = 10.0.0.2\nlocal_id = a\nremote_id = b\n"
       "local_ts = 10.1.0.0/16\nremote_ts = 10.2.0.0/16\n",
       "1: connection \"c\": auth = psk needs a psk"},
      {minimal("[gateway]\ncert = a.pem\n", "auth = pubkey\n"),
       "3: connection \"to-b\": auth = pubkey needs cert, key and ca in [gateway] (missing: key, ca)"},
      {minimal("", "auth = pubkey\n[gateway]\ncert = a.pem\nkey = a.key\nca = ca.pem\n[connection x]\n"),
       "14: connection \"x\": missing local_addrs, remote_addrs, local_id, remote_id, local_ts, remote_ts"},
      {minimal("", "local_addrs = 10.0.0.256\n"), "9: local_addrs given twice (first on line 2)"},
      {"[connection c]\nlocal_addrs = 10.0.0.256\n",
       "2: local_addrs: \"10.0.0.256\" is not an IP address (10.0.0.1, 2001:db8::1)"},
      {"[connection c]\nlocal_addrs = %any\n",
       "2: local_addrs: \"%any\" is not allowed: give the address to bind"},
      {"[connection c]\nremote_addrs = 10.0.0.1, 10.0.0.2\n",
       "2: remote_addrs: \"10.0.0.1, 10.0.0.2\" names more than one address"},
      {"[connection c]\nlocal_ts = 10.1.1.0/33\n",
       "2: local_ts: \"10.1.1.0/33\" is not a prefix (10.1.1.0/24, 2001:db8:1::/64, 10.1.1.7)"},
      {"[connection c]\nremote_ts = 10.1.1.0/24,\n",
       "2: remote_ts: \"10.1.1.0/24,\" has an empty item in its list"},
      {"[connection c]\npsk = 0x123\n", "2: psk: a 0x value must be pairs of hex digits (0x0123abcd)"},
      {"[connection c]\npsk = 0xzz\n", "2: psk: a 0x value must be pairs of hex digits (0x0123abcd)"},
      {"[connection c]\npsk = \"\"\n", "2: psk: the secret is empty"},
      {"[connection c]\nproposals = aes256gcm16-prfsha256-x25518\n",
       "2: proposals: \"x25518\" is not an IKE algorithm (in \"aes256gcm16-prfsha256-x25518\")"},
      {"[connection c]\nesp_proposals = aes256gcm16, aes128gcm16-prfsha256\n",
       "2: esp_proposals: \"prfsha256\" is not an ESP algorithm (in \"aes128gcm16-prfsha256\")"},
      {"[connection c]\nproposals = aes256gcm16-prfsha256\n",
       "2: proposals: \"aes256gcm16-prfsha256\" is not a complete IKE proposal (encryption, integrity unless "
       "AEAD, a PRF or an integrity algorithm to derive it, a key exchange; no NULL or GMAC; no AEAD mixed "
       "with "
       "others)"},
      {"[connection c]\nesp_proposals = aes128gcm16--x25519\n",
       "2: esp_proposals: \"aes128gcm16--x25519\" has an empty algorithm (a doubled or trailing '-')"},
      {"[connection c]\nlocal_id = fqdn:\n",
       "2: local_id: \"fqdn:\" is not an identity (fqdn:NAME, email:USER@DOMAIN, ip:ADDR, keyid:HEX, "
       "dn:C=.., "
       "O=.., CN=..): identity at character 1"},
      {"[connection c]\nremote_id = fqdn:a..b\n",
       "2: remote_id: \"fqdn:a..b\" is not an identity pattern (fqdn:*.example.test, email:@example.test, "
       "ip:10.0.0.0/8, keyid:HEX, dn:C=.., CN=.., %any): fqdn label at character 8"},
  };
  for (const Case& k : cases) {
    const std::string e = error_of(k.text);
    CHECK_MESSAGE(e == k.want, k.text);
  }
}

TEST_CASE("gateway config: quoting, comments, escapes, whitespace") {
  const std::string text =
      "\xef\xbb\xbf# a comment\r\n"
      "   # an indented comment\n"
      "\t[gateway]   # comment after a header\n"
      "key_export = \"/tmp/a dir # not a comment\"  # a comment\n"
      "cert=a.pem#comment\n"
      "ca = \"a,b.pem\" , \n"
      "[ connection   to-b ]\r\n"
      "local_addrs=10.0.0.1\n"
      "remote_addrs =\t10.0.0.2\t\n"
      "local_id = \"email:a@example.test\"\n"
      "remote_id = \"fqdn:b.example.test\"\n"
      "psk = \"with \\\"quotes\\\", a \\\\ and # hash\"\n"
      "local_ts = 10.1.1.0/24\n"
      "remote_ts = 10.1.2.0/24\n";
  std::string error;
  auto c = parse_config(text, error);
  // "ca" is a list: the quoted text is split after unquoting ("a" and
  // "b.pem"); the trailing ", " after the quote is text after the quote.
  CHECK(error == "6: ca: text after the closing quote: \", \"");
  std::string fixed = text;
  fixed.replace(fixed.find("ca = \"a,b.pem\" , "), 17, "ca = \"a,b.pem\"   ");
  c = parse_config(fixed, error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->key_export == "/tmp/a dir # not a comment");
  CHECK(c->cert == "a.pem");
  CHECK(c->ca == std::vector<std::string>{"a", "b.pem"});
  REQUIRE(c->connections.size() == 1);
  const ConnectionConfig& b = c->connections[0];
  CHECK(b.name == "to-b");
  CHECK(b.line == 7);
  CHECK(address_text(*b.remote) == "10.0.0.2");
  CHECK(b.local_id == "email:a@example.test");
  CHECK(b.psk == "with \"quotes\", a \\ and # hash");
}

TEST_CASE("gateway config: %any, hex psk, IPv6") {
  const char* text =
      "[connection v6]\n"
      "local_addrs = 2001:db8::1\n"
      "remote_addrs = %any\n"
      "local_id = ip:2001:db8::1\n"
      "remote_id = 2001:db8:ffff::/48\n"
      "psk = 0x00FF10\n"
      "local_ts = 2001:db8:1::/64, 10.1.1.0/24\n"
      "remote_ts = 2001:DB8:2::7\n";
  std::string error;
  auto c = parse_config(text, error);
  REQUIRE_MESSAGE(c, error);
  const ConnectionConfig& v6 = c->connections[0];
  CHECK(v6.local.is_v6());
  CHECK(address_text(v6.local) == "2001:db8::1");
  CHECK_FALSE(v6.remote);
  CHECK(v6.psk == std::string("\x00\xff\x10", 3));
  REQUIRE(v6.local_ts.size() == 2);
  CHECK(prefix_text(v6.local_ts[0]) == "2001:db8:1::/64");
  CHECK(prefix_text(v6.local_ts[1]) == "10.1.1.0/24");
  CHECK(prefix_text(v6.remote_ts[0]) == "2001:db8:2::7/128");
  auto pattern = gateway::id_pattern_of(v6.remote_id);
  REQUIRE(pattern);
  CHECK(pattern->kind() == ipsec::sa::IdPattern::Kind::address);
  auto id = gateway::identity_of(v6.local_id);
  REQUIRE(id);
  CHECK(id->type == ipsec::wire::IdType::ipv6_addr);
  CHECK(id->data.size() == 16);
  // A psk that merely starts like text is text.
  c = parse_config(minimal("", "").replace(minimal().find("psk = secret"), 12, "psk = 0"), error);
  REQUIRE_MESSAGE(c, error);
  CHECK(c->connections[0].psk == "0");
}

TEST_CASE("gateway config: identities and patterns beyond Identity::parse / IdPattern::parse") {
  auto dn = gateway::identity_of("dn:C=CH, O=Example\\, Inc., CN=gw-a.example.test");
  REQUIRE(dn);
  CHECK(dn->type == ipsec::wire::IdType::der_asn1_dn);
  // SEQUENCE { SET { SEQUENCE { OID 2.5.4.6, PrintableString "CH" } } ... }
  REQUIRE(dn->data.size() > 13);
  CHECK(dn->data[0] == 0x30);
  const uint8_t c_rdn[] = {0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 'C', 'H'};
  CHECK(std::equal(std::begin(c_rdn), std::end(c_rdn), dn->data.begin() + 2));
  auto same = gateway::id_pattern_of("dn:C=CH,O=Example\\, Inc.,CN=gw-a.example.test");
  REQUIRE(same);
  CHECK(same->matches(dn->type, ipsec::ByteView(dn->data.data(), dn->data.size())));
  auto subtree = gateway::id_pattern_of("dn-subtree:C=CH, O=Example\\, Inc.");
  REQUIRE(subtree);
  CHECK(subtree->matches(dn->type, ipsec::ByteView(dn->data.data(), dn->data.size())));
  CHECK(gateway::id_pattern_of("%any"));
  CHECK(gateway::id_pattern_of("any"));
  CHECK(gateway::id_pattern_of("@example.test"));
  CHECK(gateway::id_pattern_of("10.0.0.1-10.0.0.9"));
  CHECK_FALSE(gateway::id_pattern_of("dn:XX=y"));
  CHECK_FALSE(gateway::id_pattern_of("dn:C=Ch\xc3\xa9"));  // not a PrintableString
  CHECK_FALSE(gateway::id_pattern_of("dn:CN="));
  CHECK_FALSE(gateway::identity_of("dn:CN=a\\"));
  CHECK_FALSE(gateway::identity_of("dn:3000zz"));
  CHECK(gateway::identity_of("dn:3000"));  // an empty Name in hex DER
}

TEST_CASE("gateway config: the sample configs load") {
  std::string error;
  auto a = gateway::load_config(GATEWAY_EXAMPLE_DIR "/site-a.conf", error);
  REQUIRE_MESSAGE(a, error);
  auto b = gateway::load_config(GATEWAY_EXAMPLE_DIR "/site-b.conf", error);
  REQUIRE_MESSAGE(b, error);
  auto cert = gateway::load_config(GATEWAY_EXAMPLE_DIR "/site-a-cert.conf", error);
  REQUIRE_MESSAGE(cert, error);
  const ConnectionConfig& ab = a->connections.at(0);
  const ConnectionConfig& ba = b->connections.at(0);
  CHECK(ab.local == *ba.remote);
  CHECK(ba.local == *ab.remote);
  CHECK(ab.local_ts == ba.remote_ts);
  CHECK(ab.remote_ts == ba.local_ts);
  CHECK(ab.psk == ba.psk);
  CHECK(ab.start_action == ConnectionConfig::StartAction::start);
  CHECK(cert->connections.at(0).auth == ConnectionConfig::Auth::pubkey);
  CHECK(cert->ca.size() == 1);

  CHECK_FALSE(gateway::load_config(GATEWAY_EXAMPLE_DIR "/no-such.conf", error));
  CHECK(error.find(GATEWAY_EXAMPLE_DIR "/no-such.conf: cannot open: ") == 0);
  // Errors get the file name before the line.
  CHECK_FALSE(gateway::load_config(GATEWAY_EXAMPLE_DIR, error));  // a directory: read fails
  CHECK(error.find(GATEWAY_EXAMPLE_DIR ": cannot ") == 0);
}

TEST_CASE("gateway config: mutated files never crash, errors carry a line") {
  const std::string base = minimal(
      "[gateway]\ntun = gw0\nca = a.pem, b.pem\nretransmit_base = 1.8\n",
      "rekey_time = 1.5h\nlife_bytes = 5G\n"
      "esp_proposals = aes128gcm16-x25519, aes256gcm16\n[connection v6]\nlocal_addrs = ::1\n"
      "remote_addrs = %any\nlocal_id = keyid:0a1b\nremote_id = \"dn:C=CH, O=x\\\\, y, CN=z\"\npsk = 0xabcd\n"
      "local_ts = ::/0\nremote_ts = 2001:db8::/32 # c\n");
  {
    std::string error;
    auto c = parse_config(base, error);
    REQUIRE_MESSAGE(c, error);
  }
  const char kAlphabet[] = "[]=#\"\\,:./-% \n\t0a9zx";
  uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t accepted = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text = base;
    const uint64_t edits = 1 + next() % 4;
    for (uint64_t e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = static_cast<size_t>(next() % text.size());
      switch (next() % 5) {
        case 0: text[at] = static_cast<char>(next() & 0xff); break;
        case 1: text[at] = kAlphabet[next() % (sizeof kAlphabet - 1)]; break;
        case 2: text.erase(at, static_cast<size_t>(next() % 8)); break;
        case 3: text.insert(at, 1, kAlphabet[next() % (sizeof kAlphabet - 1)]); break;
        default: text.resize(at); break;
      }
    }
    std::string error;
    auto c = parse_config(text, error);
    if (c) {
      ++accepted;
      CHECK(error.empty());
      CHECK_FALSE(c->connections.empty());
    } else {
      CHECK_MESSAGE(has_line_number(error), error);
    }
  }
  CHECK(accepted > 0);
}
