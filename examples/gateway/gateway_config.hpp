// SPDX-License-Identifier: Apache-2.0
// The gateway's configuration file (examples/gateway, spec "Config file"):
// one [gateway] section and [connection NAME] sections of `key = value`
// lines. parse_config turns the text into plain values, with every value
// checked (addresses, identities, proposals, traffic selectors, durations)
// so that the gateway fails at start with "FILE:LINE: message", not later.
//
// The parser is pure: it opens nothing but the file load_config names (not
// the certificate or key files, which the gateway reads). It never throws
// and is safe on any input: the text is capped at kMaxConfigSize and every
// list at the library's limit (core/limits.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/ike/config.hpp"
#include "ipsec/sa/pad.hpp"

namespace gateway {

inline constexpr size_t kMaxConfigSize = size_t{1} << 20;  // bytes of the file
inline constexpr size_t kMaxConnections = ipsec::limits::kMaxPadEntries;

struct ConnectionConfig {
  std::string name;
  int line = 0;                            // line of the [connection NAME] header (for messages)
  ipsec::IpAddress local;                  // local_addrs
  std::optional<ipsec::IpAddress> remote;  // remote_addrs; nullopt for %any
  // local_id / remote_id: the texts as written, checked with identity_of /
  // id_pattern_of (use those to build the Identity and the PAD pattern: they
  // accept strongSwan's bare forms and "dn:" with a DN text, which
  // Identity::parse and IdPattern::parse alone do not).
  std::string local_id, remote_id;
  enum class Auth : uint8_t { psk, pubkey } auth = Auth::psk;
  std::string psk;  // the secret's bytes ("0x" + hex decoded)
  // proposals / esp_proposals: comma-separated, spaces removed, checked
  // with ipsec::ike::parse_proposals (ProtocolId::ike / esp).
  std::string proposals = "aes256gcm16-prfsha256-x25519";
  std::string esp_proposals = "aes256gcm16";
  std::vector<ipsec::IpPrefix> local_ts, remote_ts;
  enum class StartAction : uint8_t { none, start, trap } start_action = StartAction::none;
  ipsec::Duration rekey_time = std::chrono::hours(1);
  ipsec::Duration life_time = std::chrono::minutes(66);  // rekey_time * 1.1 unless given
  ipsec::Duration ike_rekey_time = std::chrono::hours(4);
  ipsec::Duration reauth_time{0};
  ipsec::Duration dpd_delay = std::chrono::seconds(30);
  uint64_t rekey_bytes = 0, life_bytes = 0, rekey_packets = 0, life_packets = 0;
  double rand_time = 0.1;
  ipsec::ike::DpdAction dpd_action = ipsec::ike::DpdAction::clear;
};

struct GatewayConfig {
  std::string tun = "ipsec0";
  uint32_t mtu = 1400;
  bool routes = true;
  std::string cert, key;  // files; empty: none
  std::vector<std::string> cert_chain, ca;
  bool rsa_pss = false;
  std::string key_export;                   // directory, empty: off
  ipsec::ike::RetransmitPolicy retransmit;  // retransmit_timeout, _base, _tries
  ipsec::ike::LogLevel log = ipsec::ike::LogLevel::info;
  std::vector<ConnectionConfig> connections;
};

// parse_config: the whole file's text. On error returns nullopt and sets
// `error` to "LINE: message" (the caller prefixes the file name).
[[nodiscard]] std::optional<GatewayConfig> parse_config(std::string_view text, std::string& error);

// load_config: reads the file, then parse_config. Errors: "FILE:LINE:
// message", "FILE: cannot open: REASON", "FILE: larger than 1048576 bytes".
[[nodiscard]] std::optional<GatewayConfig> load_config(const std::string& path, std::string& error);

// identity_of: our identity from a local_id text: Identity::parse's forms
// ("fqdn:", "email:", "ip:", "keyid:", bare text as strongSwan guesses it)
// plus "dn:" followed by a DN text ("dn:C=CH, O=Example, CN=gw-a", RDNs in
// DER order as strongSwan writes them; C and serialNumber as
// PrintableString, E/emailAddress and DC as IA5String, the others
// UTF8String, as OpenSSL encodes them) or by hex DER. With auth = pubkey
// the DN must equal the certificate's subject octet for octet; a gateway
// may rather use Identity::dn(cert.subject_der()). Errors: parse_error,
// invalid_length.
[[nodiscard]] ipsec::Result<ipsec::ike::Identity> identity_of(std::string_view text);

// id_pattern_of: the peer's PAD pattern from a remote_id text:
// IdPattern::parse's forms ("any", "fqdn:*.example.test", "ip:10.0.0.0/8",
// "dn:<hex DER>", ...), "%any" for any, "dn:"/"dn-subtree:" with a DN text
// (encoded as identity_of does), and bare text as strongSwan guesses it
// (an address or prefix, an email pattern when it holds '@', else an FQDN
// pattern: "*.example.test"). Errors: those of IdPattern::parse.
[[nodiscard]] ipsec::Result<ipsec::sa::IdPattern> id_pattern_of(std::string_view text);

}  // namespace gateway
