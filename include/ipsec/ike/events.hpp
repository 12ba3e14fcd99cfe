// SPDX-License-Identifier: Apache-2.0
// What the IKEv2 engine hands its host: datagrams to send and events (IKE
// SA up/down, child SAs to install, diagnostics), through a Sink passed on
// every call. Values and spans are valid during the call only; the sink
// must not call back into the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/ike/nat_detection.hpp"
#include "ipsec/ike/traffic_selectors.hpp"
#include "ipsec/sa/sad.hpp"
#include "ipsec/sa/selector.hpp"

namespace ipsec::ike {

// Path: the two ends of a datagram as the host's socket sees them.
struct Path {
  Endpoint local;
  Endpoint remote;
  friend bool operator==(const Path&, const Path&) = default;
};

// OutDatagram: one UDP payload to send from path.local to path.remote. On
// port 4500 it already starts with the non-ESP marker (RFC 3948 2.2).
struct OutDatagram {
  Path path;
  ByteView bytes;
};

enum class EventKind : uint8_t {
  ike_sa_up,              // IKE_AUTH completed: `ike` is set
  ike_sa_down,            // the IKE SA is gone (reason in `error`/`detail`)
  child_sa_install,       // install one direction of a child SA: `child`, `direction`
  child_sa_up,            // both directions installed: `child`
  child_sa_delete,        // remove both directions of `child` from the SAD (reqid, SPIs)
  child_sa_failed,        // the IKE SA is up but the child SA was refused (`detail`)
  proposal_mismatch,      // NO_PROPOSAL_CHOSEN, sent or received (`detail`)
  authentication_failed,  // AUTHENTICATION_FAILED, sent or received (`auth_failure`, `detail`)
  ike_sa_rekeyed,         // `ike_sa` replaced `previous_ike_sa` (RFC 7296 2.18), whose children
                          // moved; no ike_sa_down follows for `previous_ike_sa`
  peer_address_changed,   // an authenticated message came from a new address/port (2.23): `ike`
  ike_sa_keys,            // EngineConfig::export_keys: the IKE SA's new keys (`ike_keys`)
};

[[nodiscard]] constexpr std::string_view to_string(EventKind k) noexcept {
  switch (k) {
    case EventKind::ike_sa_up: return "ike_sa_up";
    case EventKind::ike_sa_down: return "ike_sa_down";
    case EventKind::child_sa_install: return "child_sa_install";
    case EventKind::child_sa_up: return "child_sa_up";
    case EventKind::child_sa_delete: return "child_sa_delete";
    case EventKind::child_sa_failed: return "child_sa_failed";
    case EventKind::proposal_mismatch: return "proposal_mismatch";
    case EventKind::authentication_failed: return "authentication_failed";
    case EventKind::ike_sa_rekeyed: return "ike_sa_rekeyed";
    case EventKind::peer_address_changed: return "peer_address_changed";
    case EventKind::ike_sa_keys: return "ike_sa_keys";
  }
  return "unknown";
}

// Which check of an authentication failed (RFC 7296 2.15, RFC 4301 4.4.3).
enum class AuthFailure : uint8_t {
  none,
  peer_refused,         // the peer answered AUTHENTICATION_FAILED
  no_pad_entry,         // no PAD entry names the peer's identity
  method_not_allowed,   // the PAD entry does not allow the AUTH method used
  psk_mismatch,         // the PSK MIC does not verify: the keys differ
  no_certificate,       // signature authentication without a CERT payload
  bad_certificate,      // a CERT that does not parse
  unknown_ca,           // no path to the entry's trust anchors
  certificate_expired,  // or not yet valid, at the host's time
  identity_mismatch,    // the ID is not the certificate's subject or a subjectAltName
  scheme_not_allowed,   // an RFC 7427 scheme we do not accept, or not fitting the key
  bad_signature,        // the signature does not verify
  missing_payload,      // IDi/IDr or AUTH absent
};

[[nodiscard]] constexpr std::string_view to_string(AuthFailure f) noexcept {
  switch (f) {
    case AuthFailure::none: return "none";
    case AuthFailure::peer_refused: return "peer sent AUTHENTICATION_FAILED";
    case AuthFailure::no_pad_entry: return "no PAD entry for the peer's identity";
    case AuthFailure::method_not_allowed: return "authentication method not allowed for the peer";
    case AuthFailure::psk_mismatch: return "PSK mismatch";
    case AuthFailure::no_certificate: return "no certificate received";
    case AuthFailure::bad_certificate: return "certificate does not parse";
    case AuthFailure::unknown_ca: return "certificate not issued by a trusted CA";
    case AuthFailure::certificate_expired: return "certificate expired or not yet valid";
    case AuthFailure::identity_mismatch: return "identity does not match the certificate";
    case AuthFailure::scheme_not_allowed: return "signature scheme not allowed";
    case AuthFailure::bad_signature: return "signature does not verify";
    case AuthFailure::missing_payload: return "ID or AUTH payload missing";
  }
  return "unknown";
}

// IkeSaInfo: a summary of an established IKE SA.
struct IkeSaInfo {
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  bool initiator = false;
  std::string_view proposal;  // e.g. "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519"
  std::string_view local_id;
  std::string_view remote_id;
  Path path;
  NatDetection nat;
};

// IkeKeys: an IKE SA's message protection keys (RFC 7296 2.14), exported
// only when the host asks (EngineConfig::export_keys): for Wireshark's
// ikev2_decryption_table, or a fuzzer that builds protected messages.
struct IkeKeys {
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  crypto::EncrId encr = crypto::EncrId::null;
  uint16_t encr_key_bits = 0;
  crypto::IntegId integ = crypto::IntegId::none;
  ByteView sk_ei, sk_er;  // key || salt
  ByteView sk_ai, sk_ar;
};

// ChildSa: the keys and parameters of a negotiated child SA, enough to
// create both esp::SaConfig values (inbound_config/outbound_config) and
// their SAD bindings. Key views are valid during the event only.
struct ChildSa {
  uint32_t reqid = 0;
  esp::SecurityProtocol protocol = esp::SecurityProtocol::esp;
  esp::Mode mode = esp::Mode::tunnel;
  uint32_t inbound_spi = 0;   // ours
  uint32_t outbound_spi = 0;  // the peer's
  crypto::EncrId encr = crypto::EncrId::null;
  uint16_t encr_key_bits = 0;
  crypto::IntegId integ = crypto::IntegId::none;
  bool esn = false;
  ByteView inbound_encr_keymat;  // key || salt
  ByteView inbound_integ_key;
  ByteView outbound_encr_keymat;
  ByteView outbound_integ_key;
  std::span<const TsRange> local_ts;
  std::span<const TsRange> remote_ts;
  std::span<const sa::Selector> selectors;  // local/remote, as the SAD binds them
  IpAddress local_address;                  // tunnel endpoints
  IpAddress remote_address;
  std::optional<esp::UdpEncapsulation> udp;  // NAT detected: RFC 3948
  sa::Lifetime lifetime;
  esp::TrafficLimits limits;
  bool peer_accepts_tfc = true;  // the peer did not send ESP_TFC_PADDING_NOT_SUPPORTED
  std::string_view proposal;     // e.g. "AES_GCM_16_256/NO_EXT_SEQ"
  // rekeys: the inbound SPI of the child SA this one replaces (RFC 7296
  // 2.8; that one is deleted once this one is up), 0 for a new child SA.
  uint32_t rekeys = 0;

  // The SA configurations for esp::InboundSa::create / OutboundSa::create.
  [[nodiscard]] esp::SaConfig inbound_config() const noexcept { return config(true); }
  [[nodiscard]] esp::SaConfig outbound_config() const noexcept { return config(false); }

 private:
  [[nodiscard]] esp::SaConfig config(bool inbound) const noexcept {
    esp::SaConfig c;
    c.spi = inbound ? inbound_spi : outbound_spi;
    c.protocol = protocol;
    c.mode = mode;
    c.encr = encr;
    c.encr_key_bits = encr_key_bits;
    c.encr_keymat = inbound ? inbound_encr_keymat : outbound_encr_keymat;
    c.integ = integ;
    c.integ_key = inbound ? inbound_integ_key : outbound_integ_key;
    c.esn = esn;
    if (mode == esp::Mode::tunnel) {
      esp::TunnelConfig t;
      t.local = local_address;
      t.remote = remote_address;
      c.tunnel = t;
    }
    if (udp) {
      c.udp = *udp;
    }
    c.limits = limits;
    return c;
  }
};

struct Event {
  EventKind kind = EventKind::ike_sa_up;
  uint64_t ike_sa = 0;           // the engine's handle of the IKE SA (our SPI)
  uint64_t previous_ike_sa = 0;  // ike_sa_rekeyed: the IKE SA it replaced
  std::string_view connection;
  const IkeSaInfo* ike = nullptr;
  const ChildSa* child = nullptr;
  const IkeKeys* ike_keys = nullptr;
  sa::Direction direction = sa::Direction::inbound;  // child_sa_install
  AuthFailure auth_failure = AuthFailure::none;
  bool peer_dead = false;  // ike_sa_down: the peer stopped answering (DPD, retransmissions)
  Errc error = Errc::ok;
  std::string_view detail;  // a readable explanation for logs
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void send(const OutDatagram& datagram) = 0;
  virtual void on_event(const Event& event) = 0;
};

}  // namespace ipsec::ike
