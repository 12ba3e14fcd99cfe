// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the gateway example's configuration file parser
// (examples/gateway/gateway_config.cpp, compiled into this target). The
// input is the file's text, any octets. Invariants (a violation traps):
//  - parse_config never crashes, and fails or succeeds, nothing else;
//  - an error reads "LINE: message" with LINE a line of the input (1 for an
//    empty input; lines end at '\n', a last line without one counts);
//  - a config that parses re-validates: every connection's proposals parse
//    with parse_proposals, its local_id with identity_of, its remote_id
//    with id_pattern_of, its values are inside their documented ranges; and
//    the config written back as text (every value given explicitly, quoted
//    where it could need it) parses again to the same values.
// Deterministic; no state kept across inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "gateway_config.hpp"
#include "ipsec/ike/proposal.hpp"

namespace {

using gateway::ConnectionConfig;
using gateway::GatewayConfig;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// quote: a value as a quoted string (only \" and \\ are escapes).
std::string quote(std::string_view v) {
  std::string s = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') s.push_back('\\');
    s.push_back(c);
  }
  s.push_back('"');
  return s;
}

std::string duration(ipsec::Duration d) {
  const auto ns = static_cast<unsigned long long>(d.count());
  char b[48];
  std::snprintf(b, sizeof b, "%llu.%09llus", ns / 1000000000ull, ns % 1000000000ull);
  return b;
}

std::string decimal(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9f", v);
  return b;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    s.push_back(kDigits[u >> 4]);
    s.push_back(kDigits[u & 15]);
  }
  return s;
}

template <typename T>
std::string join(const std::vector<T>& items) {
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += ", ";
    if constexpr (std::is_same_v<T, std::string>) {
      s += i;
    } else {
      s += i.to_text().view();
    }
  }
  return s;
}

// write: the config as a file that gives every value.
std::string write(const GatewayConfig& g) {
  std::string t = "[gateway]\n";
  auto line = [&t](std::string_view key, const std::string& value) {
    t += key;
    t += " = ";
    t += value;
    t += "\n";
  };
  line("tun", g.tun);
  line("mtu", std::to_string(g.mtu));
  line("routes", g.routes ? "yes" : "no");
  if (!g.cert.empty()) line("cert", quote(g.cert));
  if (!g.key.empty()) line("key", quote(g.key));
  if (!g.cert_chain.empty()) line("cert_chain", quote(join(g.cert_chain)));
  if (!g.ca.empty()) line("ca", quote(join(g.ca)));
  line("rsa_pss", g.rsa_pss ? "yes" : "no");
  if (!g.key_export.empty()) line("key_export", quote(g.key_export));
  line("retransmit_timeout", duration(g.retransmit.initial));
  line("retransmit_base", decimal(g.retransmit.base));
  line("retransmit_tries", std::to_string(g.retransmit.tries));
  line("log", g.log == ipsec::ike::LogLevel::debug ? "debug" : "info");
  for (const ConnectionConfig& c : g.connections) {
    t += "\n[connection " + c.name + "]\n";
    line("local_addrs", std::string(c.local.to_text().view()));
    line("remote_addrs", c.remote ? std::string(c.remote->to_text().view()) : "%any");
    line("local_id", quote(c.local_id));
    line("remote_id", quote(c.remote_id));
    line("auth", c.auth == ConnectionConfig::Auth::psk ? "psk" : "pubkey");
    if (!c.psk.empty()) line("psk", hex(c.psk));
    line("proposals", quote(c.proposals));
    line("esp_proposals", quote(c.esp_proposals));
    line("local_ts", join(c.local_ts));
    line("remote_ts", join(c.remote_ts));
    line("mode", "tunnel");
    const char* start = c.start_action == ConnectionConfig::StartAction::start  ? "start"
                        : c.start_action == ConnectionConfig::StartAction::trap ? "trap"
                                                                                : "none";
    line("start_action", start);
    line("rekey_time", duration(c.rekey_time));
    line("life_time", duration(c.life_time));
    line("rekey_bytes", std::to_string(c.rekey_bytes));
    line("life_bytes", std::to_string(c.life_bytes));
    line("rekey_packets", std::to_string(c.rekey_packets));
    line("life_packets", std::to_string(c.life_packets));
    line("rand_time", decimal(c.rand_time));
    line("ike_rekey_time", duration(c.ike_rekey_time));
    line("reauth_time", duration(c.reauth_time));
    line("dpd_delay", duration(c.dpd_delay));
    const char* dpd = c.dpd_action == ipsec::ike::DpdAction::hold      ? "hold"
                      : c.dpd_action == ipsec::ike::DpdAction::restart ? "restart"
                                                                       : "clear";
    line("dpd_action", dpd);
  }
  return t;
}

bool close(double a, double b) { return std::fabs(a - b) <= 1e-9; }

bool same(const ConnectionConfig& a, const ConnectionConfig& b) {
  return a.name == b.name && a.local == b.local && a.remote == b.remote && a.local_id == b.local_id &&
         a.remote_id == b.remote_id && a.auth == b.auth && a.psk == b.psk && a.proposals == b.proposals &&
         a.esp_proposals == b.esp_proposals && a.local_ts == b.local_ts && a.remote_ts == b.remote_ts &&
         a.start_action == b.start_action && a.rekey_time == b.rekey_time && a.life_time == b.life_time &&
         a.ike_rekey_time == b.ike_rekey_time && a.reauth_time == b.reauth_time &&
         a.dpd_delay == b.dpd_delay && a.rekey_bytes == b.rekey_bytes && a.life_bytes == b.life_bytes &&
         a.rekey_packets == b.rekey_packets && a.life_packets == b.life_packets &&
         close(a.rand_time, b.rand_time) && a.dpd_action == b.dpd_action;
}

bool same(const GatewayConfig& a, const GatewayConfig& b) {
  if (a.connections.size() != b.connections.size()) return false;
  for (size_t i = 0; i < a.connections.size(); ++i) {
    if (!same(a.connections[i], b.connections[i])) return false;
  }
  return a.tun == b.tun && a.mtu == b.mtu && a.routes == b.routes && a.cert == b.cert && a.key == b.key &&
         a.cert_chain == b.cert_chain && a.ca == b.ca && a.rsa_pss == b.rsa_pss &&
         a.key_export == b.key_export && a.retransmit.initial == b.retransmit.initial &&
         close(a.retransmit.base, b.retransmit.base) && a.retransmit.tries == b.retransmit.tries &&
         a.log == b.log;
}

// The values parse_config promises (gateway_config.hpp/.cpp).
void check_values(const GatewayConfig& g) {
  require(!g.connections.empty() && g.connections.size() <= gateway::kMaxConnections);
  require(g.mtu >= 576 && g.mtu <= 65535 && !g.tun.empty() && g.tun.size() <= 15);
  require(g.retransmit.initial.count() > 0 && g.retransmit.base >= 1.0 && g.retransmit.base <= 100.0);
  require(g.retransmit.tries <= 1000);
  for (size_t i = 0; i < g.connections.size(); ++i) {
    const ConnectionConfig& c = g.connections[i];
    for (size_t j = 0; j < i; ++j) require(g.connections[j].name != c.name);
    require(!c.name.empty() && c.name.size() <= 64 && c.line >= 1);
    require(ipsec::ike::parse_proposals(c.proposals, ipsec::wire::ProtocolId::ike).ok());
    require(ipsec::ike::parse_proposals(c.esp_proposals, ipsec::wire::ProtocolId::esp).ok());
    require(gateway::identity_of(c.local_id).ok());
    require(gateway::id_pattern_of(c.remote_id).ok());
    require(!c.remote || c.remote->family() == c.local.family());
    require(c.start_action == ConnectionConfig::StartAction::none || c.remote.has_value());
    require(c.auth != ConnectionConfig::Auth::psk || !c.psk.empty());
    require(c.auth != ConnectionConfig::Auth::pubkey || (!g.cert.empty() && !g.key.empty() && !g.ca.empty()));
    require(!c.local_ts.empty() && !c.remote_ts.empty());
    require(c.rekey_time.count() == 0 || c.life_time.count() == 0 || c.life_time > c.rekey_time);
    require(c.rekey_bytes == 0 || c.life_bytes == 0 || c.life_bytes > c.rekey_bytes);
    require(c.rekey_packets == 0 || c.life_packets == 0 || c.life_packets > c.rekey_packets);
    require(c.rand_time >= 0.0 && c.rand_time < 1.0);
  }
}

// The line numbers an error may name: 1 .. the number of lines.
size_t line_count(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += c == '\n' ? size_t{1} : size_t{0};
  if (!text.empty() && text.back() != '\n') ++n;
  return n == 0 ? 1 : n;
}

void check_error(std::string_view text, const std::string& error) {
  size_t i = 0;
  unsigned long long line = 0;
  while (i < error.size() && error[i] >= '0' && error[i] <= '9' && i < 12) {
    line = line * 10 + static_cast<unsigned long long>(error[i] - '0');
    ++i;
  }
  require(i > 0 && error.compare(i, 2, ": ") == 0 && error.size() > i + 2);
  require(line >= 1 && line <= line_count(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto config = gateway::parse_config(text, error);
  if (!config) {
    check_error(text, error);
    return 0;
  }
  check_values(*config);
  const std::string again_text = write(*config);
  std::string again_error;
  const auto again = gateway::parse_config(again_text, again_error);
  if (!again) {
    std::fprintf(stderr, "rewritten config refused: %s\n%s", again_error.c_str(), again_text.c_str());
    __builtin_trap();
  }
  require(same(*config, *again));
  return 0;
}
