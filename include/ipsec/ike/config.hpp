// SPDX-License-Identifier: Apache-2.0
// Configuration of the IKEv2 engine (ike/engine.hpp): connections (who we
// are, which peer, which proposals, which traffic), the credentials the host
// injects (private key, certificate chain, trust anchors) and the engine's
// policies (retransmission, half-open limits, cookies).
//
// Authentication of the peer is the PAD's (sa/pad.hpp): a connection names
// the PAD entry of its peer; that entry says how the peer authenticates (PSK
// or signatures, which trust anchors) and which traffic it may ask for. A
// PSK connection authenticates us with the same entry's secret, as both
// sides of a pre-shared key do (RFC 7296 2.15).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/ike/nat_detection.hpp"
#include "ipsec/ike/proposal.hpp"
#include "ipsec/ike/traffic_selectors.hpp"
#include "ipsec/sa/pad.hpp"
#include "ipsec/sa/sad.hpp"
#include "ipsec/wire/ike_enums.hpp"

namespace ipsec::ike {

// Identity: what we put in our IDi/IDr payload (RFC 7296 3.5).
struct Identity {
  wire::IdType type = wire::IdType::fqdn;
  std::vector<uint8_t> data;

  // parse: strongSwan's forms: "fqdn:gw.example.com", "email:a@b.example",
  // "ip:192.0.2.1", "keyid:0a1b", or bare text: an IP address, an RFC 822
  // address when it holds '@', else an FQDN. Errors: parse_error (empty,
  // an unknown prefix, bad hex or address), invalid_length (over 255).
  [[nodiscard]] static Result<Identity> parse(std::string_view text);
  // dn: an ID_DER_ASN1_DN identity, e.g. a certificate's subject.
  [[nodiscard]] static Identity dn(ByteView der) {
    return {wire::IdType::der_asn1_dn, {der.begin(), der.end()}};
  }
};

// How we authenticate ourselves (RFC 7296 2.15).
enum class LocalAuth : uint8_t {
  psk,        // Shared Key Message Integrity Code (method 2), the PAD entry's secret
  signature,  // RFC 7427 Digital Signature (method 14) with Credentials::private_key
};

// ChildConfig: a child SA of a connection (RFC 7296 1.2, 1.3, 2.9).
struct ChildConfig {
  std::vector<ProposalConfig> proposals;  // ESP or AH, in our order of preference
  std::vector<TsRange> local_ts;          // our side: TSi as initiator, TSr as responder
  std::vector<TsRange> remote_ts;
  esp::Mode mode = esp::Mode::tunnel;
  uint32_t reqid = 1;  // the SAD's outbound key (sa/sad.hpp); unique per child config
  // lifetime: soft = rekey the child SA after this long (RFC 7296 2.8),
  // made earlier by up to rekey_jitter of it at random so both peers do
  // not rekey at once; hard = delete it (without a rekey by then). Zero:
  // never. The engine keeps these times itself; the SA events carry only
  // the hard one (ChildSa::lifetime), for the SAD as a backstop.
  sa::Lifetime lifetime;
  double rekey_jitter = 0.1;
  // limits: byte/packet limits for the SAD (soft: rekey, hard: expiry);
  // the host reports them with IkeEngine::on_sa_event.
  esp::TrafficLimits limits;
  // tfc_padding: we accept TFC padding on our inbound SA; false sends
  // ESP_TFC_PADDING_NOT_SUPPORTED (RFC 7296 1.3.1, 3.10.1).
  bool tfc_padding = true;
};

// IkeLifetime: when an IKE SA is renewed (RFC 7296 2.8). Zero: never.
struct IkeLifetime {
  // rekey: a CREATE_CHILD_SA rekey of the IKE SA (new keys from SK_d,
  // 2.18); the child SAs move to the new IKE SA.
  Duration rekey{0};
  // reauth: a fresh IKE_SA_INIT/IKE_AUTH (make-before-break: the old IKE SA
  // and its children are deleted once the new ones are up).
  Duration reauth{0};
  double jitter = 0.1;  // up to this fraction earlier, at random
};

// What happens to a connection whose peer stopped answering (dead peer
// detection, RFC 7296 2.4): its IKE SA and child SAs are always removed.
enum class DpdAction : uint8_t {
  clear,    // nothing more
  hold,     // the host keeps its policies: the next ACQUIRE re-initiates
  restart,  // initiate the connection again at once
};

struct Connection {
  std::string name;
  // Addresses: required to initiate; for a responder they narrow which
  // connection an IKE_SA_INIT request uses (nullopt: any).
  std::optional<IpAddress> local_address;
  std::optional<IpAddress> remote_address;
  uint16_t local_port = 500;
  uint16_t remote_port = 500;
  Identity local_id;
  LocalAuth local_auth = LocalAuth::psk;
  // peer: the id of the PAD entry that describes the peer.
  uint32_t peer = 0;
  std::vector<ProposalConfig> ike_proposals;
  // children: the first is negotiated in IKE_AUTH, the others with
  // CREATE_CHILD_SA right after (RFC 7296 1.3.1). None: a childless IKE SA
  // (RFC 6023), when the responder announced support for it.
  std::vector<ChildConfig> children;
  IkeLifetime ike_lifetime;
  // dpd_delay: check the peer's liveness (an empty INFORMATIONAL request)
  // after this long without any IKE message from it; it is declared dead
  // when the retransmissions of that request go unanswered. Zero: off.
  Duration dpd_delay{0};
  DpdAction dpd_action = DpdAction::clear;
  bool send_initial_contact = true;  // RFC 7296 2.4, initiator only
  bool send_certreq = true;          // CERTREQ for our trust anchors (3.7)
};

// Credentials: what the host injects for signature authentication. The
// engine keeps the pointers and spans: they must outlive it.
struct TrustAnchor {
  uint32_t id = 0;  // the id PAD entries name in trust_anchors
  const crypto::Certificate* certificate = nullptr;
};
// PeerKey: a public key trusted for one peer without a certificate (a raw
// public key, as strongSwan's "pubkey" authentication with a configured
// key): the PAD entry `pad_entry` authenticates with signatures verified by
// `key` when the peer sends no CERT.
struct PeerKey {
  uint32_t pad_entry = 0;
  const crypto::PublicKey* key = nullptr;
};

struct Credentials {
  const crypto::PrivateKey* private_key = nullptr;
  // local_chain: our end-entity certificate first, then intermediates.
  std::span<const crypto::Certificate> local_chain;
  std::span<const TrustAnchor> trust_anchors;
  std::span<const PeerKey> peer_keys;
  // rsa_pss: sign with RSASSA-PSS (SHA-256) rather than PKCS#1 v1.5 when
  // the key is RSA and the peer accepts RFC 7427 signatures.
  bool rsa_pss = false;
};

// RetransmitPolicy: RFC 7296 2.1 leaves the timing to implementations;
// the default is strongSwan's (4 s x 1.8^n, 5 retransmissions: the IKE SA
// is given up about 165 s after the first send).
struct RetransmitPolicy {
  Duration initial = std::chrono::seconds(4);
  double base = 1.8;
  uint32_t tries = 5;  // retransmissions before giving up
};

// SpiAllocator: where the engine gets the inbound SPIs of its child SAs.
// A host with a SAD passes one backed by sa::Sad::allocate_spi (see
// ike/sad_install.hpp), so SPIs never collide with installed SAs; without
// one the engine draws random SPIs (>= 256) from its Rng.
class SpiAllocator {
 public:
  virtual ~SpiAllocator() = default;
  // allocate: a fresh SPI reserved until installed or released. Errors:
  // limit_exceeded (the child SA is then refused).
  [[nodiscard]] virtual Result<uint32_t> allocate() = 0;
  // release: an SPI allocated but never installed (the negotiation failed).
  virtual void release(uint32_t spi) = 0;
};

enum class LogLevel : uint8_t { error, info, debug };

class LogSink {
 public:
  virtual ~LogSink() = default;
  // log: one line, valid during the call. Never contains key material.
  virtual void log(LogLevel level, std::string_view line) = 0;
};

struct EngineConfig {
  std::vector<Connection> connections;
  const sa::Pad* pad = nullptr;  // required; outlives the engine
  Credentials credentials;
  RetransmitPolicy retransmit;
  // RFC 7296 2.6: once this many IKE SAs are half-open (IKE_SA_INIT
  // answered, IKE_AUTH not yet completed), new requests must return a
  // COOKIE first; 0 demands cookies always.
  size_t cookie_threshold = 10;
  // max_half_open: beyond this, IKE_SA_INIT requests are dropped.
  size_t max_half_open = 5000;
  // half_open_timeout: a responder drops an IKE SA whose IKE_AUTH does not
  // complete in this time (strongSwan's default is 30 s).
  Duration half_open_timeout = std::chrono::seconds(30);
  // half_open_reassembly_budget: octets of IKE_AUTH fragments (RFC 7383)
  // all IKE SAs not yet established may hold together. Fragments verify
  // with keys from IKE_SA_INIT, which an unauthenticated peer holds too:
  // without this, each of max_half_open IKE SAs could hold a whole 64 KiB
  // message. Over it, fragments are dropped until reassemblies complete or
  // time out (the sender retransmits them).
  size_t half_open_reassembly_budget = size_t{1} << 20;  // 1 MiB
  // RFC 7383: announce IKE fragmentation, reassemble the peer's fragments,
  // and fragment our messages after IKE_SA_INIT when the peer announced it
  // and a message would make an IP datagram larger than fragment_size
  // (strongSwan's default; RFC 7383 2.5.1 suggests 1280 for IPv6, 576 for
  // IPv4 when the path MTU is unknown).
  bool fragmentation = true;
  // signature_authentication: announce SIGNATURE_HASH_ALGORITHMS and sign
  // with RFC 7427 (method 14); false, or a peer that does not announce it,
  // gets RSA (1) and ECDSA (9-11) signatures (RFC 7296 3.8, RFC 4754).
  bool signature_authentication = true;
  size_t fragment_size = 1280;
  // nonce_size: octets of our nonces (3.9: at least 16 and at least half
  // the PRF's key size; 32 covers every PRF here).
  size_t nonce_size = 32;
  // wall_clock: Unix seconds at Timestamp 0 of the host's monotonic clock,
  // for certificate validity (the engine reads no clock).
  int64_t unix_time_at_zero = 0;
  // window_size: requests of the peer we accept in parallel (RFC 7296
  // 2.3, announced with SET_WINDOW_SIZE when above 1); our own requests
  // follow the window the peer announced.
  uint32_t window_size = 1;
  // max_child_sas_per_ike_sa: further CREATE_CHILD_SA requests of the
  // peer get NO_ADDITIONAL_SAS (rekeys are exempt: they replace one).
  size_t max_child_sas_per_ike_sa = 128;
  // max_ike_sas_per_address: IKE SAs (of any state) with one remote
  // address; further IKE_SA_INIT requests from it are dropped. 0: no limit.
  size_t max_ike_sas_per_address = 0;
  // error_notifies_per_second: unauthenticated error answers to
  // IKE_SA_INIT (INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, INVALID_SYNTAX,
  // UNSUPPORTED_CRITICAL_PAYLOAD) beyond this rate are not sent. COOKIE
  // answers are exempt: stateless, smaller than the request, and the way in
  // for legitimate peers during a flood.
  uint32_t error_notifies_per_second = 100;
  // temporary_failure_retry: how long to wait before retrying an exchange
  // the peer answered with TEMPORARY_FAILURE (RFC 7296 2.25); after
  // temporary_failure_give_up of them in a row the IKE SA is closed.
  Duration temporary_failure_retry = std::chrono::seconds(10);
  uint32_t temporary_failure_give_up = 10;
  // export_keys: report every IKE SA's SK_e/SK_a keys (EventKind::
  // ike_sa_keys) for decryption in Wireshark or fuzzing. Off by default:
  // key material leaves the engine only when the host asks.
  bool export_keys = false;
  SpiAllocator* spi_allocator = nullptr;  // outlives the engine
  LogSink* log = nullptr;
  LogLevel log_level = LogLevel::info;
};

}  // namespace ipsec::ike
