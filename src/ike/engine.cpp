// SPDX-License-Identifier: Apache-2.0
// The IKEv2 engine: IKE_SA_INIT and IKE_AUTH as initiator and responder,
// the first child SA, retransmissions, cookies, INVALID_KE retries, NAT
// detection, and the answers an established IKE SA owes its peer
// (INFORMATIONAL requests). See include/ipsec/ike/engine.hpp.
#include "ipsec/ike/engine.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/crypto/hash.hpp"
#include "ipsec/crypto/keymat.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/ike/auth.hpp"
#include "ipsec/ike/nat_detection.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_fragment.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "ipsec/wire/ike_summary.hpp"
#include "ipsec/wire/natt.hpp"

namespace ipsec::ike {

namespace {

using Bytes = std::vector<uint8_t>;
// A message as sent: one datagram, or its RFC 7383 fragments.
using Datagrams = std::vector<Bytes>;
using wire::NotifyType;
using wire::PayloadType;

constexpr uint16_t kNattPort = 4500;
constexpr uint32_t kMaxExchangeRetries = 3;  // COOKIE and INVALID_KE_PAYLOAD answers per IKE SA
constexpr uint32_t kMaxWindow = 64;          // the peer's SET_WINDOW_SIZE we honour at most
constexpr size_t kCookieSecretSize = 32;
constexpr uint8_t kCookieVersion = 1;
// SIGNATURE_HASH_ALGORITHMS data (RFC 7427 4): SHA2-256, SHA2-384,
// SHA2-512, and Identity for EdDSA (RFC 8420), 16 bits each.
constexpr std::array<uint8_t, 8> kSignatureHashes = {0, 2, 0, 3, 0, 4, 0, 5};

// Ordered: the phases before authentication completes come first.
enum class Phase : uint8_t {
  init_sent,    // initiator: IKE_SA_INIT request out
  auth_sent,    // initiator: IKE_AUTH request out
  half_open,    // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
  established,  // IKE_AUTH done
  rekeyed,      // replaced by a rekey (2.18): waiting for its Delete, children moved
  deleting,     // our Delete is out
};

// The IKE SA's negotiated transforms (RFC 7296 3.3.2).
struct IkeSuite {
  crypto::EncrId encr = crypto::EncrId::null;
  uint16_t key_bits = 0;
  crypto::PrfId prf = crypto::PrfId::hmac_sha2_256;
  crypto::IntegId integ = crypto::IntegId::none;
  crypto::KeGroup group = crypto::KeGroup::none;
};

enum class ChildPhase : uint8_t {
  installed,
  rekeying,  // our CREATE_CHILD_SA rekeying it is out
  rekeyed,   // replaced: its Delete is due (ours, or the peer's)
  deleting,  // our Delete is out
};

// PendingOutbound: the outbound half of a child SA we made as the
// responder of a rekey, kept until the initiator deletes the SA it replaces:
// only then is the initiator sure to hold the new keys (its CREATE_CHILD_SA
// response may have been lost), so only then does our traffic move over.
struct PendingOutbound {
  ChildSa child;  // its views point into the members below
  SecretBytes encr, integ;
  std::vector<TsRange> local_ts, remote_ts;
  std::vector<sa::Selector> selectors;
  std::string proposal;
};

// A child SA of an IKE SA, as installed in the host's SAD.
struct Child {
  size_t config = 0;  // index into Connection::children
  uint32_t reqid = 0;
  esp::SecurityProtocol protocol = esp::SecurityProtocol::esp;
  esp::Mode mode = esp::Mode::tunnel;
  uint32_t inbound_spi = 0;
  uint32_t outbound_spi = 0;
  ChildPhase phase = ChildPhase::installed;
  std::vector<TsRange> local_ts, remote_ts;
  std::optional<Timestamp> rekey_at, expire_at;
  // redundant_at: a rekeyed child the peer should delete; we do if it has
  // not by then (a lost Delete must not leak the SA).
  std::optional<Timestamp> redundant_at;
  uint32_t replaces = 0;  // the inbound SPI of the child this one rekeyed
  std::unique_ptr<PendingOutbound> pending_outbound;
};

// What one of our requests on an established IKE SA does.
enum class TaskKind : uint8_t {
  initial,
  create_child,
  rekey_child,
  delete_child,
  rekey_ike,
  delete_ike,
  dpd
};

struct Task {
  TaskKind kind = TaskKind::initial;
  size_t config = 0;                              // create_child: Connection::children index
  uint32_t child_spi = 0;                         // rekey_child, delete_child: the child's inbound SPI
  bool ah = false;                                // delete_child: of an AH SA (the child may be gone already)
  Timestamp not_before{};                         // retry after TEMPORARY_FAILURE
  crypto::KeGroup group = crypto::KeGroup::none;  // after INVALID_KE_PAYLOAD
  uint32_t temporary_failures = 0;
};

struct Session;

// One of our requests waiting for its response (RFC 7296 2.1, 2.3).
struct Request {
  uint32_t mid = 0;
  wire::ExchangeType exchange = wire::ExchangeType::ike_sa_init;
  Datagrams bytes;  // as sent, unframed
  Timestamp retransmit_at{};
  uint32_t retransmits = 0;
  Task task;
  // CREATE_CHILD_SA: our side of the exchange.
  Bytes nonce;
  std::unique_ptr<crypto::KeyExchange> ke;
  uint32_t child_spi = 0;  // the new child's inbound SPI (reserved)
  bool child_spi_reserved = false;
  std::unique_ptr<Session> new_ike;  // rekey_ike: the IKE SA being made
  // A collision (2.8.1, 2.8.2): the peer rekeyed the same SA while this
  // was out; its exchange's nonces decide which new SA is redundant.
  bool collided = false;
  Bytes peer_ni, our_nr;
  uint32_t peer_child = 0;  // inbound SPI of the child the peer's exchange made
  uint64_t peer_ike = 0;    // the IKE SA the peer's exchange made
};

// A response we sent, for retransmissions of its request.
struct CachedResponse {
  uint32_t mid = 0;
  // The request it answers (SHA-256 of the message, or of fragment 1):
  // only an identical retransmission gets the cached answer.
  std::array<uint8_t, 32> digest{};
  Datagrams bytes;  // as sent, unframed
};

struct Session {
  uint64_t handle = 0;  // our SPI
  const Connection* conn = nullptr;
  bool initiator = false;
  Phase phase = Phase::init_sent;
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  Path path;
  Timestamp created{};

  std::unique_ptr<crypto::KeyExchange> ke;
  Bytes ni, nr, cookie;
  Bytes init_request, init_response;  // RealMessage1/2 as sent (no marker)
  uint32_t exchange_retries = 0;
  IkeSuite suite;
  std::string suite_text;
  SecretBytes sk_d, sk_pi, sk_pr;
  std::optional<wire::SkTransform> send_keys, recv_keys;
  NatDetection nat;
  bool peer_fragmentation = false;
  bool peer_signature_hashes = false;
  bool peer_childless = false;  // CHILDLESS_IKEV2_SUPPORTED (RFC 6023)
  std::string local_id_text, remote_id_text;
  wire::IdType peer_id_type{};  // the peer's authenticated ID
  Bytes peer_id;
  const sa::PadEntry* peer_entry = nullptr;

  // Our requests (RFC 7296 2.3): at most peer_window outstanding.
  uint32_t next_mid = 0;
  uint32_t peer_window = 1;
  std::vector<Request> requests;
  std::vector<Task> tasks;  // queued, in order (vectors: no allocation while empty)
  // task_wake: when a queued task waiting out its not_before could start
  // (pump() keeps it; a task blocked by the window waits for a response).
  std::optional<Timestamp> task_wake;
  std::optional<Timestamp> armed;  // this session's entry in Impl::deadlines

  // The peer's requests: the lowest ID not yet answered, and our last
  // answers (up to our window of them).
  uint32_t peer_mid = 0;
  std::vector<CachedResponse> responses;
  std::array<uint8_t, 32> first_fragment_digest{};  // of the request being reassembled

  // The first child SA (IKE_AUTH): its inbound SPI while negotiated.
  uint32_t child_inbound_spi = 0;
  bool child_spi_reserved = false;  // allocated from the host's SpiAllocator, not installed
  std::vector<Child> children;

  // Lifetime (established IKE SAs).
  Timestamp last_heard{};  // the last authenticated message from the peer
  std::optional<Timestamp> rekey_at, reauth_at;
  std::optional<Timestamp> rekeyed_deadline;  // Phase::rekeyed: delete it ourselves by then
  uint64_t reauth_of = 0;                     // the IKE SA this one reauthenticates
  bool replaced = false;        // a rekey moved everything to a successor: no ike_sa_down for it
  bool unannounced = false;     // made by a rekey, not (yet) reported with ike_sa_rekeyed
  bool reauth_started = false;  // a reauthentication replaces this one
  // Responder of an IKE rekey that collided with ours: the IKE SA our
  // answer made, until our own exchange decides which survives.
  uint64_t collision_new_ike = 0;

  // RFC 7383: the peer's fragmented messages being put back together;
  // allocated on the first fragment.
  std::unique_ptr<wire::FragmentReassembler> reassembler;

  // EngineConfig::export_keys: SK_ai | SK_ar | SK_ei | SK_er.
  SecretBytes exported;
  size_t exported_integ_size = 0, exported_encr_size = 0;
};

[[nodiscard]] bool natt_path(const Path& p) noexcept {
  return p.local.port == kNattPort || p.remote.port == kNattPort;
}

[[nodiscard]] bool same_path(const Path& a, const Path& b) noexcept {
  return a.local.address == b.local.address && a.local.port == b.local.port &&
         a.remote.address == b.remote.address && a.remote.port == b.remote.port;
}

// digest: SHA-256 of a message, to recognise its retransmissions.
[[nodiscard]] std::array<uint8_t, 32> digest(ByteView message) noexcept {
  std::array<uint8_t, 32> d{};
  const ByteView parts[] = {message};
  if (!crypto::hash(crypto::HashId::sha2_256, parts, d).ok()) d.fill(0xff);
  return d;
}

[[nodiscard]] std::string hex(ByteView b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s.push_back(kHex[c >> 4]);
    s.push_back(kHex[c & 15]);
  }
  return s;
}

// printable: text a peer sent, for logs and event details: octets outside
// printable ASCII become \xNN, so a peer cannot start lines or send
// terminal escapes (its identity arrives before it authenticates).
[[nodiscard]] std::string printable(ByteView data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size());
  for (const uint8_t c : data) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

[[nodiscard]] std::string id_text(wire::IdType type, ByteView data) {
  switch (type) {
    case wire::IdType::fqdn:
    case wire::IdType::rfc822_addr: return printable(data);
    case wire::IdType::ipv4_addr:
    case wire::IdType::ipv6_addr: {
      auto a = IpAddress::from_bytes(data);
      return a ? std::string(a->to_text().view()) : std::string("?");
    }
    case wire::IdType::der_asn1_dn: return "DN:" + hex(data);
    case wire::IdType::key_id: return "keyid:" + hex(data);
    case wire::IdType::null_id: return "%null";
    default: return std::string(to_string(type)) + ":" + hex(data);
  }
}

[[nodiscard]] std::string transform_text(const wire::Transform& t) {
  switch (t.type) {
    case wire::TransformType::encr: {
      std::string s(crypto::to_string(static_cast<crypto::EncrId>(t.id)));
      if (s.rfind("ENCR_", 0) == 0) s = s.substr(5);
      if (t.key_length) s += "_" + std::to_string(*t.key_length);
      return s;
    }
    case wire::TransformType::prf: return std::string(crypto::to_string(static_cast<crypto::PrfId>(t.id)));
    case wire::TransformType::integ:
      return std::string(crypto::to_string(static_cast<crypto::IntegId>(t.id)));
    case wire::TransformType::ke: return std::string(crypto::to_string(static_cast<crypto::KeGroup>(t.id)));
    case wire::TransformType::esn: return t.id == 0 ? "NO_EXT_SEQ" : "EXT_SEQ";
    default: return std::string(to_string(t.type)) + "(" + std::to_string(t.id) + ")";
  }
}

template <typename Range>
[[nodiscard]] std::string transforms_text(const Range& transforms) {
  std::string s;
  for (const wire::Transform& t : transforms) {
    if (!s.empty()) s += "/";
    s += transform_text(t);
  }
  return s;
}

[[nodiscard]] std::string proposals_text(std::span<const ProposalConfig> ps) {
  std::string s;
  for (const ProposalConfig& p : ps) {
    if (!s.empty()) s += ", ";
    s += transforms_text(p.transforms);
  }
  return s;
}

// proposals_text: a peer's offer, for NO_PROPOSAL_CHOSEN diagnostics; cut
// at kMaxOfferText characters (an offer may hold 64 x 128 transforms).
[[nodiscard]] std::string proposals_text(const wire::SaPayload& sa) {
  constexpr size_t kMaxOfferText = 512;
  std::string s;
  for (const wire::ProposalView& p : sa.proposals) {
    if (!s.empty()) s += ", ";
    s += transforms_text(p.transforms);
    if (s.size() > kMaxOfferText) {
      s.resize(kMaxOfferText);
      s += "...";
      break;
    }
  }
  return s;
}

// mismatch_text: NO_PROPOSAL_CHOSEN diagnostics: both offers and the first
// transform type in which no transform of theirs is one of ours.
[[nodiscard]] std::string mismatch_text(std::span<const ProposalConfig> ours, const wire::SaPayload& theirs) {
  std::string text = "no proposal chosen: we accept [" + proposals_text(ours) + "], peer offered [" +
                     proposals_text(theirs) + "]";
  for (wire::TransformType type :
       {wire::TransformType::encr, wire::TransformType::prf, wire::TransformType::integ,
        wire::TransformType::ke, wire::TransformType::esn}) {
    bool offered = false, overlap = false, configured = false;
    for (const ProposalConfig& mine : ours) configured = configured || !mine.of_type(type).empty();
    for (const wire::ProposalView& p : theirs.proposals) {
      for (const wire::Transform& t : p.transforms) {
        if (t.type != type) continue;
        offered = true;
        for (const ProposalConfig& mine : ours) {
          for (const wire::Transform& w : mine.transforms) {
            overlap = overlap || (w.type == t.type && w.id == t.id && w.key_length == t.key_length);
          }
        }
      }
    }
    if (configured && offered && !overlap) {
      return text + "; no common " + std::string(to_string(type)) + " transform";
    }
    if (configured && !offered && type != wire::TransformType::integ &&
        !(type == wire::TransformType::ke && !ours.empty() && ours[0].protocol != wire::ProtocolId::ike)) {
      return text + "; peer offered no " + std::string(to_string(type)) + " transform";
    }
  }
  return text + "; no single proposal combines the common transforms";
}

[[nodiscard]] IkeSuite suite_of(const Selected& s) {
  IkeSuite suite;
  if (auto e = s.get(wire::TransformType::encr)) {
    suite.encr = static_cast<crypto::EncrId>(e->id);
    suite.key_bits = e->key_length.value_or(0);
  }
  if (auto p = s.get(wire::TransformType::prf)) suite.prf = static_cast<crypto::PrfId>(p->id);
  if (auto i = s.get(wire::TransformType::integ)) suite.integ = static_cast<crypto::IntegId>(i->id);
  if (auto k = s.get(wire::TransformType::ke)) suite.group = static_cast<crypto::KeGroup>(k->id);
  return suite;
}

[[nodiscard]] std::array<uint8_t, 8> spi_bytes(uint64_t spi) {
  std::array<uint8_t, 8> b{};
  store_be64(b, spi);
  return b;
}

[[nodiscard]] std::array<uint8_t, 4> spi32_bytes(uint32_t spi) {
  std::array<uint8_t, 4> b{};
  store_be32(b, spi);
  return b;
}

// The scheme we sign with for a key type (RFC 7427 3, RFC 8420).
[[nodiscard]] crypto::SignatureScheme scheme_for(crypto::KeyType t) noexcept {
  switch (t) {
    case crypto::KeyType::ed25519: return crypto::SignatureScheme::ed25519;
    case crypto::KeyType::ecdsa_p256: return crypto::SignatureScheme::ecdsa_sha256;
    case crypto::KeyType::ecdsa_p384: return crypto::SignatureScheme::ecdsa_sha384;
    case crypto::KeyType::ecdsa_p521: return crypto::SignatureScheme::ecdsa_sha512;
    case crypto::KeyType::rsa: return crypto::SignatureScheme::rsa_pkcs1_sha256;
  }
  return crypto::SignatureScheme::rsa_pkcs1_sha256;
}

// Whether the peer's ID is one its certificate vouches for (RFC 7296 3.5,
// RFC 4301 4.4.3.2): the subject for a DN, a subjectAltName otherwise.
[[nodiscard]] bool id_matches_certificate(const wire::IdPayload& id, const crypto::Certificate& cert) {
  if (id.type == wire::IdType::der_asn1_dn) return equal_bytes(id.data, cert.subject_der());
  for (size_t i = 0; i < cert.subject_alt_name_count(); ++i) {
    const crypto::SubjectAltName san = cert.subject_alt_name(i);
    switch (id.type) {
      case wire::IdType::fqdn:
        if (san.kind == crypto::SubjectAltName::Kind::dns && sa::detail::ascii_iequal(san.value, id.data))
          return true;
        break;
      case wire::IdType::rfc822_addr:
        if (san.kind == crypto::SubjectAltName::Kind::email && equal_bytes(san.value, id.data)) return true;
        break;
      case wire::IdType::ipv4_addr:
      case wire::IdType::ipv6_addr:
        if (san.kind == crypto::SubjectAltName::Kind::ip && equal_bytes(san.value, id.data)) return true;
        break;
      default: break;
    }
  }
  return false;
}

// Decoded payloads of an IKE_AUTH message (views into the datagram).
struct AuthPayloads {
  std::optional<wire::IdPayload> id;
  ByteView id_body;
  std::optional<wire::AuthPayload> auth;
  std::vector<wire::CertPayload> certs;
  bool certreq = false;
  std::optional<wire::SaPayload> sa;
  std::optional<wire::TsPayload> tsi, tsr;
  bool transport = false;
  bool no_tfc = false;
  bool initial_contact = false;
  std::optional<NotifyType> error;  // the first error notify (type < 16384)
  ByteView error_data;
  // CREATE_CHILD_SA (RFC 7296 1.3).
  std::optional<ByteView> nonce;
  std::optional<wire::KePayload> ke;
  std::optional<uint32_t> rekey_spi;    // N(REKEY_SA) for an ESP/AH SA
  std::optional<uint32_t> window_size;  // N(SET_WINDOW_SIZE)
};

[[nodiscard]] Status collect_auth(const wire::ParsedMessage& m, PayloadType id_type, AuthPayloads* out) {
  for (const wire::PayloadView& p : m.payloads()) {
    if (!p.encrypted) continue;
    if (p.type == id_type) {
      auto id = wire::decode_id(p);
      if (!id) return id.status();
      out->id = *id;
      out->id_body = p.body;
    } else if (p.type == PayloadType::auth) {
      auto a = wire::decode_auth(p);
      if (!a) return a.status();
      out->auth = *a;
    } else if (p.type == PayloadType::cert) {
      auto c = wire::decode_cert(p);
      if (!c) return c.status();
      if (out->certs.size() <= limits::kMaxCertificateChainLength) out->certs.push_back(*c);
    } else if (p.type == PayloadType::certreq) {
      out->certreq = true;
    } else if (p.type == PayloadType::nonce) {
      auto n = wire::decode_nonce(p);
      if (!n) return n.status();
      out->nonce = *n;
    } else if (p.type == PayloadType::ke) {
      auto k = wire::decode_ke(p);
      if (!k) return k.status();
      out->ke = *k;
    } else if (p.type == PayloadType::sa) {
      auto s = wire::decode_sa(p);
      if (!s) return s.status();
      out->sa = *s;
    } else if (p.type == PayloadType::ts_i || p.type == PayloadType::ts_r) {
      auto t = wire::decode_ts(p);
      if (!t) return t.status();
      (p.type == PayloadType::ts_i ? out->tsi : out->tsr) = *t;
    } else if (p.type == PayloadType::notify) {
      auto n = wire::decode_notify(p);
      if (!n) return n.status();
      const auto v = static_cast<uint16_t>(n->type);
      if (v < 16384 && !out->error) {
        out->error = n->type;
        out->error_data = n->data;
      }
      if (n->type == NotifyType::rekey_sa && n->spi.size() == 4 &&
          (n->protocol == wire::ProtocolId::esp || n->protocol == wire::ProtocolId::ah)) {
        out->rekey_spi = load_be32(n->spi.first<4>());
      }
      if (n->type == NotifyType::set_window_size && n->data.size() == 4)
        out->window_size = load_be32(n->data.first<4>());
      if (n->type == NotifyType::use_transport_mode) out->transport = true;
      if (n->type == NotifyType::esp_tfc_padding_not_supported) out->no_tfc = true;
      if (n->type == NotifyType::initial_contact) out->initial_contact = true;
    }
  }
  return Status::success();
}

[[nodiscard]] std::vector<TsRange> ranges_of(const wire::TsPayload& ts) {
  std::vector<TsRange> out;
  for (const wire::TrafficSelector& s : ts.selectors) {
    auto r = from_wire(s);
    if (r) out.push_back(*r);  // other TS types are skipped (RFC 7296 3.13.1)
  }
  return out;
}

[[nodiscard]] std::vector<wire::TrafficSelector> wire_of(std::span<const TsRange> ranges) {
  std::vector<wire::TrafficSelector> out;
  out.reserve(ranges.size());
  for (const TsRange& r : ranges) out.push_back(to_wire(r));
  return out;
}

// subset: every range of `a` lies inside one of `b`.
[[nodiscard]] bool subset(std::span<const TsRange> a, std::span<const TsRange> b) {
  for (const TsRange& r : a) {
    bool inside = false;
    for (const TsRange& c : b) {
      auto x = intersect(r, c);
      inside = inside || (x && *x == r);
    }
    if (!inside) return false;
  }
  return true;
}

}  // namespace

struct IkeEngine::Impl {
  EngineConfig config;
  crypto::Provider& provider;
  crypto::Rng& rng;
  EngineStats stats;
  // Charged by the reassemblers of IKE SAs not yet established; declared
  // before `sessions` so that it outlives them.
  wire::ReassemblyBudget unestablished_reassembly;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions;  // by our SPI
  // responder_by_spi_i: our responder IKE SAs by the initiator's SPI, for
  // their whole life, so that a late retransmission of an IKE_SA_INIT
  // request is recognised rather than starting a new IKE SA.
  std::unordered_map<uint64_t, uint64_t> responder_by_spi_i;
  size_t half_open = 0;                                // responder IKE SAs in Phase::half_open
  std::set<std::pair<Timestamp, uint64_t>> deadlines;  // (when, our SPI): every pending timer
  std::array<uint8_t, kCookieSecretSize> cookie_secret{};
  Bytes scratch = Bytes(limits::kMaxIkeMessageSize);
  Bytes framed;                           // a message with the non-ESP marker, during Sink::send
  std::vector<std::string> deferred_log;  // lines of a message built but not yet sent
  Bytes chain_scratch = Bytes(limits::kMaxIkeMessageSize);
  std::unordered_map<std::string, size_t> per_address;  // remote address octets -> IKE SAs
  double notify_tokens = 0;                             // error_notify_allowed's bucket
  std::array<uint8_t, 32> request_digest{};             // of the request receive() is handling
  Timestamp notify_bucket_at{};

  Impl(EngineConfig c, crypto::Provider& p, crypto::Rng& r) : config(std::move(c)), provider(p), rng(r) {
    unestablished_reassembly.limit = config.half_open_reassembly_budget;
    rng.fill(cookie_secret);
  }
  ~Impl() { secure_zero(cookie_secret); }

  // ---- helpers -----------------------------------------------------------

  void log(LogLevel level, const Session* s, std::string_view text) const {
    if (config.log == nullptr || level > config.log_level) return;
    std::string line;
    if (s != nullptr) {
      line = "<" + (s->conn != nullptr ? s->conn->name : std::string("?")) + "|" + hex(spi_bytes(s->handle)) +
             "> ";
    }
    line += text;
    config.log->log(level, line);
  }

  [[nodiscard]] uint64_t new_spi() {
    while (true) {
      std::array<uint8_t, 8> b{};
      rng.fill(b);
      const uint64_t spi = load_be64(b);
      if (spi != 0 && sessions.find(spi) == sessions.end()) return spi;
    }
  }
  // new_child_spi: 0 when the host's allocator has none left.
  [[nodiscard]] uint32_t new_child_spi(Session& s) {
    if (config.spi_allocator != nullptr) {
      auto spi = config.spi_allocator->allocate();
      if (!spi) return 0;
      s.child_spi_reserved = true;
      return *spi;
    }
    while (true) {
      std::array<uint8_t, 4> b{};
      rng.fill(b);
      const uint32_t spi = load_be32(b);
      if (spi >= sa::Sad::kMinSpi) return spi;
    }
  }
  [[nodiscard]] Bytes new_nonce() {
    Bytes n(config.nonce_size);
    rng.fill(n);
    return n;
  }

  [[nodiscard]] const sa::PadEntry* pad_entry(uint32_t id) const { return config.pad->find(id); }

  [[nodiscard]] const crypto::Certificate* anchor(uint32_t id) const {
    for (const TrustAnchor& a : config.credentials.trust_anchors) {
      if (a.id == id) return a.certificate;
    }
    return nullptr;
  }

  [[nodiscard]] int64_t unix_time(Timestamp now) const {
    return config.unix_time_at_zero +
           std::chrono::duration_cast<std::chrono::seconds>(now.since_origin()).count();
  }

  void emit(Sink& out, const Session& s, EventKind kind, std::string_view detail = {}, Errc error = Errc::ok,
            AuthFailure failure = AuthFailure::none) {
    Event e;
    e.kind = kind;
    e.ike_sa = s.handle;
    e.connection = s.conn != nullptr ? std::string_view(s.conn->name) : std::string_view();
    e.detail = detail;
    e.error = error;
    e.auth_failure = failure;
    out.on_event(e);
  }

  // send_raw: one IKE message to `path`; on port 4500 the non-ESP marker
  // goes first (RFC 3948 2.2). Messages are kept unframed (retransmissions,
  // cached answers) and framed here, for the path they leave on.
  void send_raw(Sink& out, const Path& path, ByteView message) {
    if (!natt_path(path)) {
      out.send(OutDatagram{path, message});
      return;
    }
    framed.assign(wire::kNonEspMarkerSize, 0);
    framed.insert(framed.end(), message.begin(), message.end());
    out.send(OutDatagram{path, framed});
  }
  void send_all(Sink& out, const Path& path, const Datagrams& message) {
    for (const Bytes& d : message) send_raw(out, path, d);
  }

  // log_message: the one-line summary of a message in or out. Protected
  // messages are summarized when built (from their plaintext) but logged
  // when sent (defer), so the log follows the order of the host's calls.
  void log_message(const Session* s, bool outgoing, const wire::IkeHeader& h,
                   std::span<const wire::PayloadView> payloads, bool opened, const Path& path,
                   bool defer = false, LogLevel level = LogLevel::info) {
    if (config.log == nullptr || config.log_level < level) return;
    const wire::MessageSummary summary = wire::summarize(h, payloads, opened);
    std::string text = outgoing ? "sending " : "received ";
    text += summary.view();
    text += outgoing ? " to " : " from ";
    text += path.remote.address.to_text().view();
    text += "[" + std::to_string(path.remote.port) + "]";
    if (defer) {
      deferred_log.push_back(std::move(text));
      return;
    }
    log(level, s, text);
  }
  [[nodiscard]] bool logging_messages() const noexcept {
    return config.log != nullptr && config.log_level >= LogLevel::info;
  }
  // log_own_message: the summary of an unprotected message we send (parsed
  // back only when someone reads the log).
  void log_own_message(const Session& s, ByteView message, const Path& path) {
    if (!logging_messages()) return;
    wire::ParsedMessage pm;
    if (wire::parse_message(message, &pm).ok()) log_message(&s, true, pm.header, pm.payloads(), false, path);
  }
  void flush_log(const Session& s) {
    for (const std::string& line : deferred_log) log(LogLevel::info, &s, line);
    deferred_log.clear();
  }

  // build_plain: an unprotected message (IKE_SA_INIT and its error answers).
  template <typename Fill>
  [[nodiscard]] Result<Bytes> build_plain(const wire::IkeHeader& header, Fill fill) {
    wire::MessageBuilder b(scratch, header);
    fill(b.payloads());
    auto msg = b.finish();
    if (!msg) return msg.status();
    return Bytes(msg->begin(), msg->end());
  }

  // build_protected: HDR, SK { chain } with the session's keys.
  template <typename Fill>
  [[nodiscard]] Result<Datagrams> build_protected(Session& s, wire::ExchangeType exchange, bool response,
                                                  uint32_t mid, Fill fill) {
    deferred_log.clear();
    wire::ChainBuilder chain(chain_scratch);
    fill(chain.payloads());
    auto plain = chain.finish();
    if (!plain) return plain.status();
    wire::IkeHeader h;
    h.spi_i = s.spi_i;
    h.spi_r = s.spi_r;
    h.exchange = exchange;
    h.flags = static_cast<uint8_t>((s.initiator ? wire::ike_flag::kInitiator : 0) |
                                   (response ? wire::ike_flag::kResponse : 0));
    h.message_id = mid;
    if (logging_messages()) {
      wire::ParsedMessage pm;
      pm.header = h;
      if (wire::parse_payload_chain(chain.first_type(), *plain, 0, true, &pm).ok()) {
        log_message(&s, true, h, pm.payloads(), true, s.path, true);
      }
    }
    // RFC 7383 2.5: fragment when both sides support it and the message
    // would not fit the configured IP datagram size.
    const size_t overhead = (s.path.remote.address.family() == IpFamily::v4 ? 20 : 40) + 8 +
                            (natt_path(s.path) ? wire::kNonEspMarkerSize : 0);
    const size_t max_message = config.fragment_size > overhead ? config.fragment_size - overhead : 0;
    const size_t whole = wire::kIkeHeaderSize + 4 + s.send_keys->overhead(plain->size()) + plain->size();
    Datagrams datagrams;
    if (s.peer_fragmentation && config.fragmentation && whole > max_message) {
      auto f = wire::Fragmenter::make(h, chain.first_type(), *plain, *s.send_keys, max_message);
      if (!f) return f.status();
      for (uint16_t n = 1; n <= f->count(); ++n) {
        auto frag = f->build(n, *s.send_keys, rng, scratch);
        if (!frag) return frag.status();
        datagrams.emplace_back(frag->begin(), frag->end());
      }
      if (config.log != nullptr)
        deferred_log.push_back("splitting it into " + std::to_string(f->count()) + " fragments");
      return datagrams;
    }
    auto msg = wire::build_protected_message(h, chain.first_type(), *plain, *s.send_keys, rng, scratch);
    if (!msg) return msg.status();
    datagrams.emplace_back(msg->begin(), msg->end());
    return datagrams;
  }

  // ---- requests and responses on an IKE SA -------------------------------

  // send_request: our request with ID next_mid (IKE_SA_INIT restarts reuse
  // ID 0 and replace the one out). The task is taken by value (trivially
  // copyable): a copy cannot alias s.requests, which this erases from.
  Request& send_request(Session& s, wire::ExchangeType exchange, Datagrams message, Timestamp now, Sink& out,
                        // cppcheck-suppress passedByValue
                        Task task = {}) {
    std::erase_if(s.requests, [&](const Request& r) { return r.mid == s.next_mid; });
    Request r;
    r.mid = s.next_mid;
    r.exchange = exchange;
    r.bytes = std::move(message);
    r.retransmit_at = now + config.retransmit.initial;
    r.task = task;
    s.requests.push_back(std::move(r));
    if (exchange != wire::ExchangeType::ike_sa_init) ++s.next_mid;
    rearm(s);
    flush_log(s);
    send_all(out, s.path, s.requests.back().bytes);
    return s.requests.back();
  }

  [[nodiscard]] static Request* find_request(Session& s, uint32_t mid) {
    for (Request& r : s.requests) {
      if (r.mid == mid) return &r;
    }
    return nullptr;
  }

  // take_request: the request a response answers, out of the window.
  [[nodiscard]] static std::optional<Request> take_request(Session& s, uint32_t mid) {
    for (auto it = s.requests.begin(); it != s.requests.end(); ++it) {
      if (it->mid != mid) continue;
      Request r = std::move(*it);
      s.requests.erase(it);
      return r;
    }
    return std::nullopt;
  }

  // send_response: our answer to request `mid`, kept for its
  // retransmissions (the last window_size answers, RFC 7296 2.3).
  void send_response(Session& s, uint32_t mid, const std::array<uint8_t, 32>& answered, Datagrams message,
                     Sink& out) {
    CachedResponse c;
    c.mid = mid;
    c.digest = answered;
    c.bytes = std::move(message);
    s.responses.push_back(std::move(c));
    while (s.responses.size() > std::max<uint32_t>(config.window_size, 1))
      s.responses.erase(s.responses.begin());
    // The lowest ID not yet answered moves past every answered one.
    auto is_answered = [&](uint32_t m) {
      return std::any_of(s.responses.begin(), s.responses.end(),
                         [&](const CachedResponse& r) { return r.mid == m; });
    };
    while (is_answered(s.peer_mid)) ++s.peer_mid;
    flush_log(s);
    send_all(out, s.path, s.responses.back().bytes);
  }

  // respond: our answer to the request being handled (receive() keeps its
  // digest in request_digest).
  void respond(Session& s, uint32_t mid, Datagrams message, Sink& out) {
    send_response(s, mid, request_digest, std::move(message), out);
  }

  void release_child_spi(Session& s) {
    if (s.child_spi_reserved && config.spi_allocator != nullptr)
      config.spi_allocator->release(s.child_inbound_spi);
    s.child_spi_reserved = false;
  }
  void release_request(Request& r) {
    if (r.child_spi_reserved && config.spi_allocator != nullptr) config.spi_allocator->release(r.child_spi);
    r.child_spi_reserved = false;
  }

  void destroy(uint64_t handle) {
    auto it = sessions.find(handle);
    if (it == sessions.end()) return;
    Session& s = *it->second;
    release_child_spi(s);
    for (Request& r : s.requests) release_request(r);
    if (s.phase == Phase::half_open) --half_open;
    auto h = responder_by_spi_i.find(s.spi_i);
    if (h != responder_by_spi_i.end() && h->second == handle) responder_by_spi_i.erase(h);
    if (s.armed) deadlines.erase({*s.armed, handle});
    count_address(s.path.remote.address, -1);
    sessions.erase(it);
  }

  // down: report the IKE SA gone (and its children) and forget it.
  void down(Session& s, Sink& out, std::string_view why, Errc error = Errc::ok, bool peer_dead = false) {
    log(LogLevel::info, &s, "IKE SA down: " + std::string(why));
    while (!s.children.empty()) child_down(s, s.children.back().inbound_spi, out, "IKE SA down", false);
    if (s.replaced || s.unannounced) {
      destroy(s.handle);  // the host heard of its end with ike_sa_rekeyed, or never of it
      return;
    }
    Event e;
    e.kind = EventKind::ike_sa_down;
    e.ike_sa = s.handle;
    e.connection = s.conn != nullptr ? std::string_view(s.conn->name) : std::string_view();
    e.detail = why;
    e.error = error;
    e.peer_dead = peer_dead;
    out.on_event(e);
    destroy(s.handle);
  }

  // Per-address IKE SA counts (EngineConfig::max_ike_sas_per_address).
  void count_address(const IpAddress& a, int delta) {
    if (config.max_ike_sas_per_address == 0) return;
    const std::string key(a.bytes().begin(), a.bytes().end());
    auto it = per_address.find(key);
    if (delta > 0) {
      ++per_address[key];
    } else if (it != per_address.end() && --it->second == 0) {
      per_address.erase(it);
    }
  }
  [[nodiscard]] bool address_full(const IpAddress& a) const {
    if (config.max_ike_sas_per_address == 0) return false;
    auto it = per_address.find(std::string(a.bytes().begin(), a.bytes().end()));
    return it != per_address.end() && it->second >= config.max_ike_sas_per_address;
  }
  // add_session: a new IKE SA in the tables.
  Session& add_session(std::unique_ptr<Session> session) {
    Session& s = *session;
    count_address(s.path.remote.address, +1);
    sessions.emplace(s.handle, std::move(session));
    // s refers to the heap object, now owned by the table, not to a local.
    // cppcheck-suppress returnReference
    return s;
  }

  // error_notify_allowed: a token bucket for unauthenticated answers.
  [[nodiscard]] bool error_notify_allowed(Timestamp now) {
    const double rate = config.error_notifies_per_second;
    if (rate <= 0) return false;
    const double elapsed = std::chrono::duration<double>(now - notify_bucket_at).count();
    notify_tokens = std::min(rate, notify_tokens + std::max(0.0, elapsed) * rate);
    notify_bucket_at = now;
    if (notify_tokens < 1) {
      ++stats.notifies_suppressed;
      return false;
    }
    notify_tokens -= 1;
    return true;
  }

  // ---- IKE_SA_INIT -------------------------------------------------------

  [[nodiscard]] Result<Bytes> build_init_request(Session& s) {
    wire::IkeHeader h;
    h.spi_i = s.spi_i;
    h.exchange = wire::ExchangeType::ike_sa_init;
    h.flags = wire::ike_flag::kInitiator;
    std::vector<wire::Proposal> proposals;
    for (size_t i = 0; i < s.conn->ike_proposals.size(); ++i) {
      const ProposalConfig& p = s.conn->ike_proposals[i];
      // RFC 7296 1.2: KEi is for the first group of the proposals; put the
      // group we use first so a responder that prefers it needs no retry.
      proposals.push_back(
          wire::Proposal{static_cast<uint8_t>(i + 1), wire::ProtocolId::ike, {}, p.transforms});
    }
    auto src = nat_detection_hash(s.spi_i, 0, s.path.local);
    auto dst = nat_detection_hash(s.spi_i, 0, s.path.remote);
    if (!src || !dst) return Errc::crypto_backend_failure;
    return build_plain(h, [&](wire::PayloadChainWriter& w) {
      // RFC 7296 2.6: the cookie comes first.
      if (!s.cookie.empty()) w.add_notify(NotifyType::cookie, s.cookie);
      w.add_sa(proposals);
      w.add_ke({s.ke->group(), s.ke->public_value()});
      w.add_nonce(s.ni);
      w.add_notify(NotifyType::nat_detection_source_ip, *src);
      w.add_notify(NotifyType::nat_detection_destination_ip, *dst);
      if (config.fragmentation) w.add_notify(NotifyType::ikev2_fragmentation_supported);
      if (config.signature_authentication)
        w.add_notify(NotifyType::signature_hash_algorithms, kSignatureHashes);
      if (s.conn->children.empty()) w.add_notify(NotifyType::childless_ikev2_supported);
    });
  }

  [[nodiscard]] Status start_init(Session& s, Timestamp now, Sink& out) {
    auto msg = build_init_request(s);
    if (!msg) return msg.status();
    s.init_request = *msg;
    log_own_message(s, s.init_request, s.path);
    s.next_mid = 0;
    (void)send_request(s, wire::ExchangeType::ike_sa_init, Datagrams{s.init_request}, now, out);
    return Status::success();
  }

  [[nodiscard]] Result<uint64_t> initiate(const Connection& conn, Timestamp now, Sink& out) {
    if (!conn.local_address || !conn.remote_address)
      return Status(Errc::invalid_argument, 0, "connection.local_address");
    auto session = std::make_unique<Session>();
    Session& s = *session;
    s.handle = new_spi();
    s.spi_i = s.handle;
    s.conn = &conn;
    s.initiator = true;
    s.phase = Phase::init_sent;
    s.created = now;
    s.path.local = Endpoint{*conn.local_address, conn.local_port};
    s.path.remote = Endpoint{*conn.remote_address, conn.remote_port};
    const auto groups = conn.ike_proposals.front().of_type(wire::TransformType::ke);
    auto ke = provider.make_key_exchange(static_cast<crypto::KeGroup>(groups.front().id), rng);
    if (!ke) return ke.status();
    s.ke = std::move(*ke);
    s.ni = new_nonce();
    s.peer_entry = pad_entry(conn.peer);
    s.local_id_text = id_text(conn.local_id.type, conn.local_id.data);
    log(LogLevel::info, &s,
        "initiating IKE SA to " + std::string(s.path.remote.address.to_text().view()) + " as " +
            s.local_id_text);
    IPSEC_TRY(start_init(s, now, out));
    return add_session(std::move(session)).handle;
  }

  // derive_ike_keys: SKEYSEED and {SK_d | SK_ai | SK_ar | SK_ei | SK_er |
  // SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296 2.14).
  // For a rekey of `old`, SKEYSEED = prf (SK_d (old), g^ir (new) | Ni | Nr)
  // with the old IKE SA's PRF (2.18).
  [[nodiscard]] Status derive_ike_keys(Session& s, ByteView shared, const Session* old = nullptr) {
    const auto prf = crypto::prf_info(s.suite.prf);
    const auto encr = crypto::encr_info(s.suite.encr);
    if (!prf || !encr) return Errc::unsupported_algorithm;
    size_t integ_size = 0;
    if (s.suite.integ != crypto::IntegId::none) {
      const auto integ = crypto::integ_info(s.suite.integ);
      if (!integ) return Errc::unsupported_algorithm;
      integ_size = integ->key_size;
    }
    const size_t encr_size = encr->keymat_size(s.suite.key_bits);
    const size_t prf_size = prf->key_size;
    auto seed = old == nullptr ? crypto::skeyseed(provider, s.suite.prf, s.ni, s.nr, shared)
                               : rekey_skeyseed(*old, s.ni, s.nr, shared);
    if (!seed) return seed.status();
    auto mac = provider.make_prf(s.suite.prf, seed->view());
    if (!mac) return mac.status();
    const size_t total = 3 * prf_size + 2 * integ_size + 2 * encr_size;
    auto keymat = SecretBytes::allocate(total);
    if (!keymat) return keymat.status();
    const auto spis = std::array<std::array<uint8_t, 8>, 2>{spi_bytes(s.spi_i), spi_bytes(s.spi_r)};
    const ByteView parts[] = {s.ni, s.nr, spis[0], spis[1]};
    IPSEC_TRY(crypto::prf_plus(**mac, parts, keymat->mutable_view()));
    const ByteView k = keymat->view();
    size_t at = 0;
    auto take = [&](size_t n) {
      const ByteView v = k.subspan(at, n);
      at += n;
      return v;
    };
    auto sk_d = SecretBytes::copy_of(take(prf_size));
    const ByteView sk_ai = take(integ_size), sk_ar = take(integ_size);
    const ByteView sk_ei = take(encr_size), sk_er = take(encr_size);
    if (config.export_keys) {
      auto copy = SecretBytes::copy_of(k.subspan(prf_size, 2 * integ_size + 2 * encr_size));
      if (copy) s.exported = std::move(*copy);
      s.exported_integ_size = integ_size;
      s.exported_encr_size = encr_size;
    }
    auto sk_pi = SecretBytes::copy_of(take(prf_size));
    auto sk_pr = SecretBytes::copy_of(take(prf_size));
    if (!sk_d || !sk_pi || !sk_pr) return Errc::out_of_memory;
    auto to_r =
        wire::SkTransform::make(provider, s.suite.encr, s.suite.key_bits, s.suite.integ, sk_ei, sk_ai);
    if (!to_r) return to_r.status();
    auto to_i =
        wire::SkTransform::make(provider, s.suite.encr, s.suite.key_bits, s.suite.integ, sk_er, sk_ar);
    if (!to_i) return to_i.status();
    s.sk_d = std::move(*sk_d);
    s.sk_pi = std::move(*sk_pi);
    s.sk_pr = std::move(*sk_pr);
    if (s.initiator) {
      s.send_keys.emplace(std::move(*to_r));
      s.recv_keys.emplace(std::move(*to_i));
    } else {
      s.send_keys.emplace(std::move(*to_i));
      s.recv_keys.emplace(std::move(*to_r));
    }
    return Status::success();
  }

  [[nodiscard]] Result<SecretBytes> rekey_skeyseed(const Session& old, ByteView ni, ByteView nr,
                                                   ByteView shared) {
    auto mac = provider.make_prf(old.suite.prf, old.sk_d.view());
    if (!mac) return mac.status();
    auto seed = SecretBytes::allocate((*mac)->output_size());
    if (!seed) return seed.status();
    const ByteView parts[] = {shared, ni, nr};
    IPSEC_TRY((*mac)->compute(parts, seed->mutable_view()));
    return std::move(*seed);
  }

  // export_keys: the ike_sa_keys event (EngineConfig::export_keys).
  void export_keys(Session& s, Sink& out) {
    if (!config.export_keys || s.exported.view().empty()) return;
    const ByteView k = s.exported.view();
    const size_t a = s.exported_integ_size, e = s.exported_encr_size;
    IkeKeys keys;
    keys.spi_i = s.spi_i;
    keys.spi_r = s.spi_r;
    keys.encr = s.suite.encr;
    keys.encr_key_bits = s.suite.key_bits;
    keys.integ = s.suite.integ;
    keys.sk_ai = k.subspan(0, a);
    keys.sk_ar = k.subspan(a, a);
    keys.sk_ei = k.subspan(2 * a, e);
    keys.sk_er = k.subspan(2 * a + e, e);
    Event ev;
    ev.kind = EventKind::ike_sa_keys;
    ev.ike_sa = s.handle;
    ev.connection = s.conn != nullptr ? std::string_view(s.conn->name) : std::string_view();
    ev.ike_keys = &keys;
    out.on_event(ev);
    s.exported = SecretBytes();
  }

  void read_init_notifies(Session& s, const wire::ParsedMessage& m, std::vector<ByteView>* nat_src,
                          ByteView* nat_dst) {
    for (const wire::PayloadView& p : m.payloads()) {
      if (p.type != PayloadType::notify) continue;
      auto n = wire::decode_notify(p);
      if (!n) continue;
      if (n->type == NotifyType::nat_detection_source_ip) nat_src->push_back(n->data);
      if (n->type == NotifyType::nat_detection_destination_ip) *nat_dst = n->data;
      if (n->type == NotifyType::ikev2_fragmentation_supported) s.peer_fragmentation = true;
      if (n->type == NotifyType::signature_hash_algorithms) s.peer_signature_hashes = true;
      if (n->type == NotifyType::childless_ikev2_supported) s.peer_childless = true;
    }
  }

  // cookie_for: RFC 7296 2.6: <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>).
  [[nodiscard]] Bytes cookie_for(ByteView ni, const IpAddress& ip, uint64_t spi_i) const {
    Bytes c(1 + 32);
    c[0] = kCookieVersion;
    const auto spi = spi_bytes(spi_i);
    const ByteView parts[] = {ni, ip.bytes(), spi, cookie_secret};
    if (!crypto::hash(crypto::HashId::sha2_256, parts, MutableByteView(c).subspan(1)).ok()) c.clear();
    return c;
  }

  // init_error_due: whether an IKE_SA_INIT request gets an error answer
  // now. COOKIE answers are not rate limited: they are stateless and
  // smaller than the request (no amplification), and a legitimate initiator
  // must get one during a flood to be let in (RFC 7296 2.6).
  [[nodiscard]] bool init_error_due(Timestamp now, NotifyType type) {
    return type == NotifyType::cookie || error_notify_allowed(now);
  }

  // answer_init_error: answer an IKE_SA_INIT request `req` with a notify,
  // when due. The request and the answer are logged only with the answer,
  // so an unauthenticated flood costs the log no more than the rate
  // limited answers; COOKIE answers (one per request in a flood) at debug.
  void answer_init_error(Timestamp now, const Path& path, const wire::ParsedMessage& req, NotifyType type,
                         ByteView data, Sink& out) {
    if (init_error_due(now, type)) send_init_error(path, req, type, data, out);
  }
  void send_init_error(const Path& path, const wire::ParsedMessage& req, NotifyType type, ByteView data,
                       Sink& out) {
    const LogLevel level = type == NotifyType::cookie ? LogLevel::debug : LogLevel::info;
    log_message(nullptr, false, req.header, req.payloads(), false, path, false, level);
    if (type == NotifyType::cookie) ++stats.cookies_sent;
    if (type == NotifyType::invalid_ke_payload) ++stats.invalid_ke_sent;
    wire::IkeHeader h;
    h.spi_i = req.header.spi_i;
    h.spi_r = 0;
    h.exchange = wire::ExchangeType::ike_sa_init;
    h.flags = wire::ike_flag::kResponse;
    h.message_id = 0;
    auto msg = build_plain(h, [&](wire::PayloadChainWriter& w) { w.add_notify(type, data); });
    if (!msg) return;
    log(level, nullptr,
        "sending IKE_SA_INIT response 0 [ N(" + std::string(to_string(type)) + ") ] to " +
            std::string(path.remote.address.to_text().view()));
    send_raw(out, path, *msg);
  }

  [[nodiscard]] const Connection* responder_connection(const Path& path) const {
    for (const Connection& c : config.connections) {
      if (c.local_address && !(*c.local_address == path.local.address)) continue;
      if (c.remote_address && !(*c.remote_address == path.remote.address)) continue;
      return &c;
    }
    return nullptr;
  }

  void on_init_request(Timestamp now, const Path& path, ByteView message, const wire::ParsedMessage& m,
                       Sink& out) {
    const wire::IkeHeader& h = m.header;
    if (h.message_id != 0 || h.spi_r != 0) {
      ++stats.dropped;
      return;
    }
    // A retransmitted request: answer with the same response (RFC 7296 2.1).
    if (auto it = responder_by_spi_i.find(h.spi_i); it != responder_by_spi_i.end()) {
      auto s = sessions.find(it->second);
      if (s != sessions.end() && s->second->phase == Phase::half_open && same_path(s->second->path, path) &&
          equal_bytes(s->second->init_request, message)) {
        ++stats.responses_resent;
        send_all(out, s->second->path, s->second->responses.front().bytes);
      } else {
        ++stats.dropped;
      }
      return;
    }
    const wire::PayloadView* sa_p = m.find(PayloadType::sa);
    const wire::PayloadView* ke_p = m.find(PayloadType::ke);
    const wire::PayloadView* nonce_p = m.find(PayloadType::nonce);
    if (sa_p == nullptr || ke_p == nullptr || nonce_p == nullptr) {
      answer_init_error(now, path, m, NotifyType::invalid_syntax, {}, out);
      return;
    }
    auto sa_v = wire::decode_sa(*sa_p);
    auto ke_v = wire::decode_ke(*ke_p);
    auto ni = wire::decode_nonce(*nonce_p);
    if (!sa_v || !ke_v || !ni) {
      answer_init_error(now, path, m, NotifyType::invalid_syntax, {}, out);
      return;
    }
    if (half_open >= config.max_half_open || address_full(path.remote.address)) {
      ++stats.dropped;
      return;
    }
    // RFC 7296 2.6: under load, a request must echo a cookie proving the
    // peer receives at its address before the responder keeps any state.
    if (half_open >= config.cookie_threshold) {
      const Bytes expected = cookie_for(*ni, path.remote.address, h.spi_i);
      const wire::PayloadView* first = m.payloads().empty() ? nullptr : &m.payloads()[0];
      std::optional<wire::NotifyPayload> cookie;
      if (first != nullptr && first->type == PayloadType::notify) {
        auto n = wire::decode_notify(*first);
        if (n && n->type == NotifyType::cookie) cookie = *n;
      }
      if (!cookie || !ct_equal(cookie->data, expected)) {
        answer_init_error(now, path, m, NotifyType::cookie, expected, out);
        return;
      }
    }
    const Connection* conn = responder_connection(path);
    if (conn == nullptr) {
      if (!init_error_due(now, NotifyType::no_proposal_chosen)) return;
      log(LogLevel::info, nullptr,
          "no connection for " + std::string(path.remote.address.to_text().view()) + ": NO_PROPOSAL_CHOSEN");
      send_init_error(path, m, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    auto chosen = select_proposal(conn->ike_proposals, *sa_v);
    if (!chosen) {
      // The diagnostics and the event are as rate limited as the answer.
      if (!init_error_due(now, NotifyType::no_proposal_chosen)) return;
      const std::string why = mismatch_text(conn->ike_proposals, *sa_v);
      log(LogLevel::info, nullptr, "IKE " + why);
      Session tmp;
      tmp.conn = conn;
      emit(out, tmp, EventKind::proposal_mismatch, why, Errc::invalid_value);
      send_init_error(path, m, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    const IkeSuite suite = suite_of(*chosen);
    if (ke_v->group != suite.group) {
      // RFC 7296 1.2: name the group we want; keep no state.
      std::array<uint8_t, 2> g{};
      store_be16(g, static_cast<uint16_t>(suite.group));
      answer_init_error(now, path, m, NotifyType::invalid_ke_payload, g, out);
      return;
    }
    auto session = std::make_unique<Session>();
    Session& s = *session;
    s.handle = new_spi();
    s.spi_i = h.spi_i;
    s.spi_r = s.handle;
    s.conn = conn;
    s.initiator = false;
    s.phase = Phase::half_open;
    s.created = now;
    s.path = path;
    s.suite = suite;
    s.suite_text = transforms_text(chosen->transforms);
    s.ni.assign(ni->begin(), ni->end());
    s.nr = new_nonce();
    s.init_request.assign(message.begin(), message.end());
    // Past the cookie check: requests that get this far are logged.
    log_message(&s, false, h, m.payloads(), false, path);
    auto ke = provider.make_key_exchange(suite.group, rng);
    if (!ke) {
      answer_init_error(now, path, m, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    s.ke = std::move(*ke);
    auto shared = s.ke->shared_secret(ke_v->data);
    if (!shared) {
      // RFC 6989: a bad public value fails the exchange.
      answer_init_error(now, path, m, NotifyType::invalid_syntax, {}, out);
      return;
    }
    if (!derive_ike_keys(s, shared->view()).ok()) {
      answer_init_error(now, path, m, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    std::vector<ByteView> nat_src;
    ByteView nat_dst;
    read_init_notifies(s, m, &nat_src, &nat_dst);
    // RFC 7296 2.23: the request's hashes cover the SPIs of its header, SPIr = 0.
    auto nat = evaluate_nat_detection(s.spi_i, 0, nat_src, nat_dst, path.remote, path.local);
    if (nat) s.nat = *nat;
    // Build the response.
    wire::IkeHeader rh;
    rh.spi_i = s.spi_i;
    rh.spi_r = s.spi_r;
    rh.exchange = wire::ExchangeType::ike_sa_init;
    rh.flags = wire::ike_flag::kResponse;
    auto src = nat_detection_hash(s.spi_i, s.spi_r, path.local);
    auto dst = nat_detection_hash(s.spi_i, s.spi_r, path.remote);
    if (!src || !dst) return;
    const wire::Proposal answer = chosen->as_proposal({});
    const Bytes certreq = certreq_data(*conn);
    auto msg = build_plain(rh, [&](wire::PayloadChainWriter& w) {
      w.add_sa(std::span<const wire::Proposal>(&answer, 1));
      w.add_ke({s.ke->group(), s.ke->public_value()});
      w.add_nonce(s.nr);
      if (nat && nat->supported) {
        w.add_notify(NotifyType::nat_detection_source_ip, *src);
        w.add_notify(NotifyType::nat_detection_destination_ip, *dst);
      }
      if (!certreq.empty()) w.add_certreq({wire::CertEncoding::x509_signature, certreq});
      if (s.peer_fragmentation && config.fragmentation)
        w.add_notify(NotifyType::ikev2_fragmentation_supported);
      if (s.peer_signature_hashes && config.signature_authentication)
        w.add_notify(NotifyType::signature_hash_algorithms, kSignatureHashes);
      w.add_notify(NotifyType::childless_ikev2_supported);  // RFC 6023
    });
    if (!msg) return;
    s.init_response = *msg;
    s.ke.reset();  // the private value is not needed once SKEYSEED exists
    log_own_message(s, s.init_response, path);
    send_response(s, 0, digest(message), Datagrams{s.init_response}, out);
    responder_by_spi_i[s.spi_i] = s.handle;
    ++half_open;
    add_session(std::move(session));
    rearm(s);
    export_keys(s, out);
  }

  // certreq_data: SHA-1 hashes of our trust anchors' public keys (RFC 7296
  // 3.7), when the connection's peer authenticates with signatures.
  [[nodiscard]] Bytes certreq_data(const Connection& conn) const {
    Bytes out;
    if (!conn.send_certreq) return out;
    const sa::PadEntry* e = pad_entry(conn.peer);
    if (e == nullptr || !e->auth().allows(wire::AuthMethod::digital_signature)) return out;
    for (uint32_t id : e->trust_anchors()) {
      const crypto::Certificate* c = anchor(id);
      if (c == nullptr) continue;
      auto pk = c->public_key();
      if (!pk) continue;
      std::array<uint8_t, 20> h{};
      const ByteView parts[] = {pk->spki_der()};
      if (crypto::hash(crypto::HashId::sha1, parts, h).ok()) out.insert(out.end(), h.begin(), h.end());
    }
    return out;
  }

  void on_init_response(Session& s, Timestamp now, const wire::ParsedMessage& m, ByteView message,
                        Sink& out) {
    if (s.phase != Phase::init_sent || m.header.message_id != 0 || find_request(s, 0) == nullptr) {
      ++stats.dropped;
      return;
    }
    log_message(&s, false, m.header, m.payloads(), false, s.path);
    if (auto cookie = m.find_notify(NotifyType::cookie)) {
      if (++s.exchange_retries > kMaxExchangeRetries) return down(s, out, "too many COOKIE requests");
      s.cookie.assign(cookie->data.begin(), cookie->data.end());
      (void)start_init(s, now, out);
      return;
    }
    if (auto invalid_ke = m.find_notify(NotifyType::invalid_ke_payload)) {
      const auto group = static_cast<crypto::KeGroup>(load_be16(invalid_ke->data.first<2>()));
      bool offered = false;
      for (const ProposalConfig& p : s.conn->ike_proposals) {
        for (const wire::Transform& t : p.of_type(wire::TransformType::ke))
          offered = offered || static_cast<crypto::KeGroup>(t.id) == group;
      }
      if (!offered || group == s.ke->group() || ++s.exchange_retries > kMaxExchangeRetries) {
        return down(s, out, "INVALID_KE_PAYLOAD for a group we did not offer", Errc::invalid_value);
      }
      log(LogLevel::info, &s,
          "peer wants key exchange " + std::string(crypto::to_string(group)) + ", retrying IKE_SA_INIT");
      auto ke = provider.make_key_exchange(group, rng);
      if (!ke) return down(s, out, "key exchange failed", ke.status().code());
      s.ke = std::move(*ke);
      (void)start_init(s, now, out);
      return;
    }
    for (const wire::PayloadView& p : m.payloads()) {
      if (p.type != PayloadType::notify) continue;
      auto n = wire::decode_notify(p);
      if (!n || static_cast<uint16_t>(n->type) >= 16384) continue;
      if (n->type == NotifyType::no_proposal_chosen) {
        const std::string why =
            "peer sent NO_PROPOSAL_CHOSEN for [" + proposals_text(s.conn->ike_proposals) + "]";
        emit(out, s, EventKind::proposal_mismatch, why, Errc::invalid_value);
        return down(s, out, why, Errc::invalid_value);
      }
      return down(s, out, "peer sent " + std::string(to_string(n->type)), Errc::invalid_value);
    }
    const wire::PayloadView* sa_p = m.find(PayloadType::sa);
    const wire::PayloadView* ke_p = m.find(PayloadType::ke);
    const wire::PayloadView* nonce_p = m.find(PayloadType::nonce);
    if (sa_p == nullptr || ke_p == nullptr || nonce_p == nullptr || m.header.spi_r == 0) {
      ++stats.dropped;  // not a valid answer; keep waiting (2.21.1: unauthenticated)
      return;
    }
    auto sa_v = wire::decode_sa(*sa_p);
    auto ke_v = wire::decode_ke(*ke_p);
    auto nr = wire::decode_nonce(*nonce_p);
    if (!sa_v || !ke_v || !nr || sa_v->proposals.size() != 1) {
      ++stats.dropped;
      return;
    }
    auto chosen = select_proposal(s.conn->ike_proposals, *sa_v);
    if (!chosen) {
      return down(s, out, "peer chose a proposal we did not offer: " + proposals_text(*sa_v),
                  Errc::invalid_value);
    }
    s.suite = suite_of(*chosen);
    s.suite_text = transforms_text(chosen->transforms);
    if (s.suite.group != s.ke->group() || ke_v->group != s.ke->group()) {
      return down(s, out, "peer's key exchange does not match the proposal", Errc::invalid_value);
    }
    auto shared = s.ke->shared_secret(ke_v->data);
    if (!shared) return down(s, out, "invalid key exchange value", shared.status().code());
    s.spi_r = m.header.spi_r;
    s.nr.assign(nr->begin(), nr->end());
    s.init_response.assign(message.begin(), message.end());
    if (Status st = derive_ike_keys(s, shared->view()); !st.ok())
      return down(s, out, "key derivation failed", st.code());
    export_keys(s, out);
    s.ke.reset();
    std::vector<ByteView> nat_src;
    ByteView nat_dst;
    read_init_notifies(s, m, &nat_src, &nat_dst);
    auto nat = evaluate_nat_detection(s.spi_i, s.spi_r, nat_src, nat_dst, s.path.remote, s.path.local);
    if (nat) s.nat = *nat;
    (void)take_request(s, 0);
    rearm(s);
    if (s.nat.use_port_4500() && !natt_path(s.path)) {
      // RFC 7296 2.23: move to port 4500 once a NAT is detected.
      s.path.local.port = kNattPort;
      s.path.remote.port = kNattPort;
      log(LogLevel::info, &s, "NAT detected, switching to port 4500");
    }
    send_auth_request(s, now, out);
  }

  // ---- IKE_AUTH ----------------------------------------------------------

  // own_auth: our AUTH payload data over our signed octets (RFC 7296 2.15).
  [[nodiscard]] Result<Bytes> own_auth(Session& s, ByteView id_body, wire::AuthMethod* method) {
    const ByteView real_message = s.initiator ? ByteView(s.init_request) : ByteView(s.init_response);
    const ByteView peer_nonce = s.initiator ? ByteView(s.nr) : ByteView(s.ni);
    const ByteView sk_p = s.initiator ? s.sk_pi.view() : s.sk_pr.view();
    auto octets = signed_octets(provider, s.suite.prf, real_message, peer_nonce, sk_p, id_body);
    if (!octets) return octets.status();
    if (s.conn->local_auth == LocalAuth::psk) {
      const sa::PadEntry* e = s.peer_entry;
      if (e == nullptr || e->psk().view().empty()) return Status(Errc::invalid_argument, 0, "pad psk");
      const auto info = crypto::prf_info(s.suite.prf);
      Bytes mac(info->output_size);
      IPSEC_TRY(psk_auth(provider, s.suite.prf, e->psk().view(), *octets, mac));
      *method = wire::AuthMethod::shared_key_mic;
      return mac;
    }
    const crypto::PrivateKey* key = config.credentials.private_key;
    if ((!s.peer_signature_hashes || !config.signature_authentication) &&
        key->type() != crypto::KeyType::ed25519) {
      // RFC 7427 4: without the peer's SIGNATURE_HASH_ALGORITHMS, the
      // methods of RFC 7296 and RFC 4754.
      auto data = legacy_auth(*key, *octets, rng);
      if (!data) return data.status();
      *method = *legacy_method(key->type());
      return std::move(*data);
    }
    crypto::SignatureScheme scheme = scheme_for(key->type());
    if (key->type() == crypto::KeyType::rsa && config.credentials.rsa_pss)
      scheme = crypto::SignatureScheme::rsa_pss_sha256;
    const auto ai = algorithm_identifier(scheme);
    if (!ai) return Errc::unsupported_algorithm;
    Bytes sig(key->max_signature_size());
    auto n = key->sign(scheme, *octets, rng, sig);
    if (!n) return n.status();
    sig.resize(*n);
    Bytes data(1 + ai->size() + sig.size());
    ByteWriter w(data);
    wire::write_signature_auth_data(w, *ai, sig);
    *method = wire::AuthMethod::digital_signature;
    return data;
  }

  [[nodiscard]] Bytes id_body(const Identity& id) const {
    Bytes b(4 + id.data.size());
    ByteWriter w(b);
    wire::write_id_body(w, wire::IdPayload{id.type, id.data});
    return b;
  }

  // child_proposals: our SA payload proposals for a child SA. In IKE_AUTH
  // the child's keys come from the IKE SA's key exchange, so key exchange
  // transforms are left out (RFC 7296 1.2); with_ke keeps them (PFS in
  // CREATE_CHILD_SA, 1.3.1).
  // OwnedProposals: proposals with the storage their views point into
  // (heap buffers, which stay put when the struct is moved).
  struct OwnedProposals {
    Bytes spi;
    std::vector<std::vector<wire::Transform>> transforms;
    std::vector<wire::Proposal> proposals;  // views into `spi` and `transforms`
  };
  [[nodiscard]] static OwnedProposals child_proposals(const ChildConfig& cc, uint32_t spi, bool with_ke) {
    OwnedProposals o;
    const auto b = spi32_bytes(spi);
    o.spi.assign(b.begin(), b.end());
    for (const ProposalConfig& p : cc.proposals) {
      std::vector<wire::Transform> t(p.transforms.begin(), p.transforms.end());
      if (!with_ke)
        std::erase_if(t, [](const wire::Transform& x) { return x.type == wire::TransformType::ke; });
      o.transforms.push_back(std::move(t));
    }
    for (size_t i = 0; i < cc.proposals.size(); ++i) {
      o.proposals.push_back(
          wire::Proposal{static_cast<uint8_t>(i + 1), cc.proposals[i].protocol, o.spi, o.transforms[i]});
    }
    return o;
  }

  void send_auth_request(Session& s, Timestamp now, Sink& out) {
    const Connection& c = *s.conn;
    const Bytes idi = id_body(c.local_id);
    wire::AuthMethod method{};
    auto auth = own_auth(s, idi, &method);
    if (!auth)
      return down(s, out, "cannot compute our AUTH: " + std::string(to_string(auth.status().code())),
                  auth.status().code());
    // RFC 6023: a connection without children makes a childless IKE SA,
    // which the responder must have announced.
    const ChildConfig* cc = c.children.empty() ? nullptr : &c.children.front();
    if (cc == nullptr && !s.peer_childless)
      return down(s, out, "the peer does not support childless IKE SAs (RFC 6023)", Errc::invalid_value);
    OwnedProposals proposals;
    std::vector<wire::TrafficSelector> tsi, tsr;
    if (cc != nullptr) {
      s.child_inbound_spi = new_child_spi(s);
      if (s.child_inbound_spi == 0) return down(s, out, "no SPI for the child SA", Errc::limit_exceeded);
      proposals = child_proposals(*cc, s.child_inbound_spi, false);
      tsi = wire_of(cc->local_ts);
      tsr = wire_of(cc->remote_ts);
    }
    const Bytes certreq = certreq_data(c);
    // RFC 7296 2.4: INITIAL_CONTACT only when we hold no other IKE SA with
    // this peer (the peer would drop the others as stale).
    bool initial_contact = c.send_initial_contact;
    for (const auto& [handle, other] : sessions) {
      if (handle != s.handle && other->conn == s.conn &&
          (other->phase == Phase::established || other->phase == Phase::auth_sent ||
           other->phase == Phase::rekeyed)) {
        initial_contact = false;
        break;
      }
    }
    s.next_mid = 1;
    auto msg = build_protected(s, wire::ExchangeType::ike_auth, false, 1, [&](wire::PayloadChainWriter& w) {
      w.add_raw(PayloadType::id_i, idi);
      if (c.local_auth == LocalAuth::signature) {
        for (const crypto::Certificate& cert : config.credentials.local_chain)
          w.add_cert({wire::CertEncoding::x509_signature, cert.der()});
      }
      if (initial_contact) w.add_notify(NotifyType::initial_contact);
      if (!certreq.empty()) w.add_certreq({wire::CertEncoding::x509_signature, certreq});
      w.add_auth({method, *auth});
      add_window_notify(w);
      if (cc == nullptr) return;
      if (cc->mode == esp::Mode::transport) w.add_notify(NotifyType::use_transport_mode);
      if (!cc->tfc_padding) w.add_notify(NotifyType::esp_tfc_padding_not_supported);
      w.add_sa(proposals.proposals);
      w.add_ts(PayloadType::ts_i, tsi);
      w.add_ts(PayloadType::ts_r, tsr);
    });
    if (!msg) return down(s, out, "cannot build IKE_AUTH", msg.status().code());
    s.phase = Phase::auth_sent;
    (void)send_request(s, wire::ExchangeType::ike_auth, std::move(*msg), now, out);
  }

  // add_window_notify: SET_WINDOW_SIZE (RFC 7296 2.3) when we accept more
  // than one request at a time.
  void add_window_notify(wire::PayloadChainWriter& w) const {
    if (config.window_size <= 1) return;
    std::array<uint8_t, 4> size{};
    store_be32(size, config.window_size);
    w.add_notify(NotifyType::set_window_size, size);
  }

  // verify_peer_auth: the peer's AUTH against its PAD entry (RFC 7296 2.15,
  // RFC 4301 4.4.3). Returns AuthFailure::none on success.
  [[nodiscard]] AuthFailure verify_peer_auth(Session& s, const sa::PadEntry& entry, const AuthPayloads& a,
                                             Timestamp now, std::string* detail) {
    if (!a.id || !a.auth) return AuthFailure::missing_payload;
    if (!sa::Pad::authorize_auth(entry, a.auth->method)) {
      *detail = "method " + std::string(to_string(a.auth->method));
      return AuthFailure::method_not_allowed;
    }
    const ByteView real_message = s.initiator ? ByteView(s.init_response) : ByteView(s.init_request);
    const ByteView our_nonce = s.initiator ? ByteView(s.ni) : ByteView(s.nr);
    const ByteView sk_p = s.initiator ? s.sk_pr.view() : s.sk_pi.view();
    auto octets = signed_octets(provider, s.suite.prf, real_message, our_nonce, sk_p, a.id_body);
    if (!octets) return AuthFailure::bad_signature;
    if (a.auth->method == wire::AuthMethod::shared_key_mic) {
      return verify_psk_auth(provider, s.suite.prf, entry.psk().view(), *octets, a.auth->data).ok()
                 ? AuthFailure::none
                 : AuthFailure::psk_mismatch;
    }
    const bool legacy = detail::legacy(a.auth->method).has_value();
    if (a.auth->method != wire::AuthMethod::digital_signature && !legacy) {
      *detail = "method " + std::string(to_string(a.auth->method)) + " is not implemented";
      return AuthFailure::method_not_allowed;
    }
    std::vector<crypto::Certificate> certs;
    for (const wire::CertPayload& c : a.certs) {
      if (c.encoding != wire::CertEncoding::x509_signature) continue;
      auto cert = crypto::Certificate::parse_der(c.data);
      if (!cert) return AuthFailure::bad_certificate;
      certs.push_back(std::move(*cert));
    }
    if (certs.empty()) {
      // A public key configured for this peer (no certificate to check).
      for (const PeerKey& k : config.credentials.peer_keys) {
        if (k.pad_entry == entry.id() && k.key != nullptr)
          return verify_with_key(*k.key, *a.auth, *octets, detail);
      }
      return AuthFailure::no_certificate;
    }
    std::vector<crypto::Certificate> anchors;
    for (uint32_t id : entry.trust_anchors()) {
      const crypto::Certificate* c = anchor(id);
      if (c == nullptr) continue;
      auto copy = c->clone();
      if (copy) anchors.push_back(std::move(*copy));
    }
    const Status chain = crypto::verify_chain(
        certs.front(), std::span<const crypto::Certificate>(certs).subspan(1), anchors, unix_time(now));
    if (!chain.ok()) {
      *detail = std::string(to_string(chain.code()));
      return chain.code() == Errc::certificate_expired || chain.code() == Errc::certificate_not_yet_valid
                 ? AuthFailure::certificate_expired
                 : AuthFailure::unknown_ca;
    }
    if (entry.id_must_match_certificate() && !id_matches_certificate(*a.id, certs.front())) {
      return AuthFailure::identity_mismatch;
    }
    auto key = certs.front().public_key();
    if (!key) return AuthFailure::bad_certificate;
    return verify_with_key(*key, *a.auth, *octets, detail);
  }

  // verify_with_key: a signature AUTH (method 14, or 1/9/10/11) by `key`.
  [[nodiscard]] static AuthFailure verify_with_key(const crypto::PublicKey& key,
                                                   const wire::AuthPayload& auth, ByteView octets,
                                                   std::string* detail) {
    if (detail::legacy(auth.method)) {
      const Status v = verify_legacy_auth(key, auth, octets);
      if (v.ok()) return AuthFailure::none;
      if (v.code() == Errc::bad_signature) return AuthFailure::bad_signature;
      *detail = std::string(to_string(auth.method)) + " with a " +
                std::string(crypto::to_string(key.type())) + " key";
      return AuthFailure::scheme_not_allowed;
    }
    auto data = wire::decode_signature_auth(auth.data);
    if (!data) return AuthFailure::scheme_not_allowed;
    auto scheme = scheme_of(*data);
    if (!scheme || !crypto::scheme_fits(*scheme, key.type())) {
      *detail = scheme ? std::string(crypto::to_string(*scheme)) + " with a " +
                             std::string(crypto::to_string(key.type())) + " key"
                       : std::string("unknown AlgorithmIdentifier");
      return AuthFailure::scheme_not_allowed;
    }
    return key.verify(*scheme, octets, data->signature).ok() ? AuthFailure::none : AuthFailure::bad_signature;
  }

  // derive_child: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296
  // 2.17), initiator-to-responder keys first, encryption before integrity.
  struct ChildKeys {
    SecretBytes keymat;
    size_t encr_size = 0;
    size_t integ_size = 0;
  };
  [[nodiscard]] Result<ChildKeys> derive_child(Session& s, crypto::EncrId encr, uint16_t key_bits,
                                               crypto::IntegId integ, ByteView ni, ByteView nr,
                                               ByteView shared = {}) {
    ChildKeys k;
    const auto encr_info = crypto::encr_info(encr);
    if (!encr_info) return Errc::unsupported_algorithm;
    k.encr_size = encr_info->keymat_size(key_bits);
    if (integ != crypto::IntegId::none) {
      const auto info = crypto::integ_info(integ);
      if (!info) return Errc::unsupported_algorithm;
      k.integ_size = info->key_size;
    }
    auto keymat = SecretBytes::allocate(2 * (k.encr_size + k.integ_size));
    if (!keymat) return keymat.status();
    auto mac = provider.make_prf(s.suite.prf, s.sk_d.view());
    if (!mac) return mac.status();
    const ByteView with_ke[] = {shared, ni, nr};
    const ByteView without_ke[] = {ni, nr};
    IPSEC_TRY(crypto::prf_plus(
        **mac, shared.empty() ? std::span<const ByteView>(without_ke) : std::span<const ByteView>(with_ke),
        keymat->mutable_view()));
    k.keymat = std::move(*keymat);
    return k;
  }

  // NewChild: what a negotiation settled for a child SA.
  struct NewChild {
    size_t config = 0;
    const Selected* chosen = nullptr;
    uint32_t inbound_spi = 0;
    std::vector<TsRange> local, remote;
    esp::Mode mode = esp::Mode::tunnel;
    bool peer_no_tfc = false;
    ByteView ni, nr, shared;      // KEYMAT inputs
    bool we_initiated = false;    // of the exchange that made it
    uint32_t rekeys = 0;          // the inbound SPI of the child it replaces
    bool outbound = true;         // false: a redundant SA of a collision, inbound only
    bool defer_outbound = false;  // we answered a rekey: PendingOutbound
  };

  // install_child: emit the child SA (inbound first; `between` runs after
  // the inbound install, before the outbound one: the responder's answer
  // leaves there) and the up events. Returns false (child_sa_failed
  // emitted, `between` run) when its keys cannot be derived.
  template <typename Between>
  bool install_child(Session& s, Timestamp now, const NewChild& n, Sink& out, Between between) {
    const Selected& chosen = *n.chosen;
    const ChildConfig& cc = s.conn->children[n.config];
    const auto encr_t = chosen.get(wire::TransformType::encr);
    const auto integ_t = chosen.get(wire::TransformType::integ);
    const auto esn_t = chosen.get(wire::TransformType::esn);
    ChildSa c;
    c.reqid = cc.reqid;
    c.protocol =
        chosen.protocol == wire::ProtocolId::ah ? esp::SecurityProtocol::ah : esp::SecurityProtocol::esp;
    c.mode = n.mode;
    c.inbound_spi = n.inbound_spi;
    c.outbound_spi = chosen.spi.size() == 4 ? load_be32(chosen.spi.first<4>()) : 0;
    c.encr = encr_t ? static_cast<crypto::EncrId>(encr_t->id) : crypto::EncrId::null;
    c.encr_key_bits = encr_t ? encr_t->key_length.value_or(0) : 0;
    c.integ = integ_t ? static_cast<crypto::IntegId>(integ_t->id) : crypto::IntegId::none;
    c.esn = esn_t && esn_t->id == 1;
    const bool has_encr = c.protocol == esp::SecurityProtocol::esp;
    auto keys = derive_child(s, has_encr ? c.encr : crypto::EncrId::null, c.encr_key_bits, c.integ, n.ni,
                             n.nr, n.shared);
    if (!keys) {
      between();
      emit(out, s, EventKind::child_sa_failed, "child SA key derivation failed", keys.status().code());
      return false;
    }
    const ByteView k = keys->keymat.view();
    const size_t half = keys->encr_size + keys->integ_size;
    const ByteView i_to_r = k.first(half), r_to_i = k.subspan(half, half);
    // KEYMAT's first half protects what the exchange's initiator sends
    // (for IKE_AUTH, the IKE SA's initiator).
    const ByteView in = n.we_initiated ? r_to_i : i_to_r;
    const ByteView outk = n.we_initiated ? i_to_r : r_to_i;
    c.inbound_encr_keymat = in.first(keys->encr_size);
    c.inbound_integ_key = in.subspan(keys->encr_size);
    c.outbound_encr_keymat = outk.first(keys->encr_size);
    c.outbound_integ_key = outk.subspan(keys->encr_size);
    const std::vector<sa::Selector> selectors = ike::selectors(n.local, n.remote);
    c.local_ts = n.local;
    c.remote_ts = n.remote;
    c.selectors = selectors;
    c.local_address = s.path.local.address;
    c.remote_address = s.path.remote.address;
    if (s.nat.udp_encapsulation())
      c.udp = esp::UdpEncapsulation{s.path.local.port, s.path.remote.port, false};
    // The engine rekeys on time itself (with jitter); the SAD gets the
    // hard limit as a backstop.
    c.lifetime = sa::Lifetime{Duration{0}, cc.lifetime.hard};
    c.limits = cc.limits;
    c.peer_accepts_tfc = !n.peer_no_tfc;
    c.rekeys = n.rekeys;
    const std::string proposal = transforms_text(chosen.transforms);
    c.proposal = proposal;
    Event e;
    e.kind = EventKind::child_sa_install;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.child = &c;
    e.direction = sa::Direction::inbound;
    out.on_event(e);
    between();
    Child child;
    if (n.outbound && n.defer_outbound) {
      auto p = std::make_unique<PendingOutbound>();
      auto encr = SecretBytes::copy_of(c.outbound_encr_keymat);
      auto integ = SecretBytes::copy_of(c.outbound_integ_key);
      if (encr && integ) {
        p->child = c;
        p->encr = std::move(*encr);
        p->integ = std::move(*integ);
        p->local_ts = n.local;
        p->remote_ts = n.remote;
        p->selectors = selectors;
        p->proposal = proposal;
        p->child.inbound_encr_keymat = {};
        p->child.inbound_integ_key = {};
        p->child.outbound_encr_keymat = p->encr.view();
        p->child.outbound_integ_key = p->integ.view();
        p->child.local_ts = p->local_ts;
        p->child.remote_ts = p->remote_ts;
        p->child.selectors = p->selectors;
        p->child.proposal = p->proposal;
        child.pending_outbound = std::move(p);
      }
    }
    if (n.outbound && !child.pending_outbound) {
      e.direction = sa::Direction::outbound;
      out.on_event(e);
    }
    child.config = n.config;
    child.reqid = c.reqid;
    child.protocol = c.protocol;
    child.mode = c.mode;
    child.inbound_spi = c.inbound_spi;
    child.outbound_spi = c.outbound_spi;
    child.local_ts = n.local;
    child.remote_ts = n.remote;
    child.replaces = n.rekeys;
    schedule_child(child, cc, now);
    s.children.push_back(std::move(child));
    log(LogLevel::info, &s,
        std::string(n.rekeys != 0 ? "CHILD_SA rekeyed" : "CHILD_SA established") + " with SPIs " +
            hex(spi32_bytes(c.inbound_spi)) + "_i " + hex(spi32_bytes(c.outbound_spi)) + "_o, " + proposal);
    if (n.rekeys != 0) ++stats.child_rekeys;
    e.kind = EventKind::child_sa_up;
    out.on_event(e);
    rearm(s);
    return true;
  }

  // schedule_child: its rekey (soft lifetime less a random jitter, RFC
  // 7296 2.8) and expiry (hard lifetime).
  void schedule_child(Child& c, const ChildConfig& cc, Timestamp now) {
    if (cc.lifetime.soft > Duration{0}) c.rekey_at = now + jittered(cc.lifetime.soft, cc.rekey_jitter);
    if (cc.lifetime.hard > Duration{0}) c.expire_at = now + cc.lifetime.hard;
  }

  // jittered: `d` less a random part of up to `fraction` of it.
  [[nodiscard]] Duration jittered(Duration d, double fraction) {
    if (fraction <= 0) return d;
    std::array<uint8_t, 4> b{};
    rng.fill(b);
    const double u = static_cast<double>(load_be32(b)) / 4294967296.0;
    const auto cut = std::chrono::duration_cast<Duration>(d * (std::min(fraction, 1.0) * u));
    return d - cut;
  }

  void report_up(Session& s, Timestamp now, Sink& out) {
    if (s.phase == Phase::half_open) --half_open;
    s.phase = Phase::established;
    if (s.reassembler) s.reassembler->set_budget(nullptr);
    s.last_heard = now;
    schedule_ike(s, now);
    rearm(s);
    ++stats.established;
    const IkeSaInfo info = info_of(s);
    log(LogLevel::info, &s,
        "IKE SA established between " + std::string(s.path.local.address.to_text().view()) + "[" +
            s.local_id_text + "]..." + std::string(s.path.remote.address.to_text().view()) + "[" +
            s.remote_id_text + "], " + s.suite_text);
    Event e;
    e.kind = EventKind::ike_sa_up;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.ike = &info;
    out.on_event(e);
  }

  // schedule_ike: the IKE SA's rekey or reauthentication (with jitter).
  void schedule_ike(Session& s, Timestamp now) {
    const IkeLifetime& l = s.conn->ike_lifetime;
    s.rekey_at.reset();
    s.reauth_at.reset();
    if (l.rekey > Duration{0}) s.rekey_at = now + jittered(l.rekey, l.jitter);
    if (l.reauth > Duration{0}) s.reauth_at = now + jittered(l.reauth, l.jitter);
  }

  // drop_stale: RFC 7296 2.4: INITIAL_CONTACT says the peer kept no state:
  // our other IKE SAs with that authenticated identity (and their child
  // SAs) are stale and go without a Delete.
  void drop_stale(const Session& fresh, const wire::IdPayload& id, Sink& out) {
    std::vector<uint64_t> stale;
    for (const auto& [handle, other] : sessions) {
      if (handle == fresh.handle || (other->phase != Phase::established && other->phase != Phase::rekeyed))
        continue;
      if (other->peer_entry != fresh.peer_entry || other->peer_id_type != id.type ||
          !equal_bytes(other->peer_id, id.data)) {
        continue;
      }
      stale.push_back(handle);
    }
    std::sort(stale.begin(), stale.end());
    for (uint64_t handle : stale) {
      auto it = sessions.find(handle);
      if (it != sessions.end()) down(*it->second, out, "replaced: the peer sent INITIAL_CONTACT");
    }
  }

  void on_auth_request(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    AuthPayloads a;
    if (!collect_auth(m, PayloadType::id_i, &a).ok()) {
      auto msg =
          build_protected(s, wire::ExchangeType::ike_auth, true, m.header.message_id,
                          [&](wire::PayloadChainWriter& w) { w.add_notify(NotifyType::invalid_syntax); });
      if (msg) respond(s, m.header.message_id, std::move(*msg), out);
      return down(s, out, "malformed IKE_AUTH request", Errc::invalid_value);
    }
    // Find the peer's PAD entry and the connection that serves it.
    const sa::PadEntry* entry = nullptr;
    const Connection* conn = nullptr;
    if (a.id) {
      s.remote_id_text = id_text(a.id->type, a.id->data);
      s.peer_id_type = a.id->type;
      s.peer_id.assign(a.id->data.begin(), a.id->data.end());
      entry = config.pad->match(*a.id, s.path.remote.address);
      if (entry != nullptr) {
        for (const Connection& c : config.connections) {
          if (c.peer != entry->id()) continue;
          if (c.local_address && !(*c.local_address == s.path.local.address)) continue;
          conn = &c;
          break;
        }
      }
    }
    AuthFailure failure = AuthFailure::none;
    std::string detail;
    if (!a.id || !a.auth) {
      failure = AuthFailure::missing_payload;
    } else if (entry == nullptr || conn == nullptr) {
      failure = AuthFailure::no_pad_entry;
    } else {
      s.conn = conn;
      s.peer_entry = entry;
      failure = verify_peer_auth(s, *entry, a, now, &detail);
    }
    if (failure != AuthFailure::none) {
      std::string why =
          "authentication of '" + s.remote_id_text + "' failed: " + std::string(to_string(failure));
      if (!detail.empty()) why += " (" + detail + ")";
      log(LogLevel::info, &s, why);
      emit(out, s, EventKind::authentication_failed, why, Errc::integrity_check_failed, failure);
      auto msg = build_protected(
          s, wire::ExchangeType::ike_auth, true, m.header.message_id,
          [&](wire::PayloadChainWriter& w) { w.add_notify(NotifyType::authentication_failed); });
      if (msg) respond(s, m.header.message_id, std::move(*msg), out);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    s.local_id_text = id_text(s.conn->local_id.type, s.conn->local_id.data);
    if (a.initial_contact) drop_stale(s, *a.id, out);
    const Bytes idr = id_body(s.conn->local_id);
    wire::AuthMethod method{};
    auto auth = own_auth(s, idr, &method);
    if (!auth) return down(s, out, "cannot compute our AUTH", auth.status().code());
    // The child SA (RFC 7296 1.2, 2.9): proposal, traffic selectors, mode;
    // none at all for a childless IKE SA (RFC 6023).
    const bool childless = !a.sa && !a.tsi && !a.tsr;
    ChildAnswer ca;
    if (!childless) {
      ca = negotiate_child(s, a, std::nullopt, false, out);
      if (!ca.error) {
        s.child_inbound_spi = new_child_spi(s);
        if (s.child_inbound_spi == 0) ca.fail(NotifyType::no_additional_sas, "no SPI for the child SA");
      }
    }
    if (a.window_size) s.peer_window = std::clamp<uint32_t>(*a.window_size, 1, kMaxWindow);
    const auto our_spi = spi32_bytes(s.child_inbound_spi);
    const auto w_tsi = wire_of(ca.tsi);
    const auto w_tsr = wire_of(ca.tsr);
    wire::Proposal answer;
    if (ca.chosen) answer = ca.chosen->as_proposal(our_spi);
    const ChildConfig* cc = ca.error || childless ? nullptr : &s.conn->children[ca.config];
    auto msg = build_protected(s, wire::ExchangeType::ike_auth, true, m.header.message_id,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_raw(PayloadType::id_r, idr);
                                 if (s.conn->local_auth == LocalAuth::signature) {
                                   for (const crypto::Certificate& cert : config.credentials.local_chain)
                                     w.add_cert({wire::CertEncoding::x509_signature, cert.der()});
                                 }
                                 w.add_auth({method, *auth});
                                 add_window_notify(w);
                                 if (ca.error) {
                                   w.add_notify(*ca.error);
                                   return;
                                 }
                                 if (cc == nullptr) return;
                                 if (ca.mode == esp::Mode::transport)
                                   w.add_notify(NotifyType::use_transport_mode);
                                 if (!cc->tfc_padding)
                                   w.add_notify(NotifyType::esp_tfc_padding_not_supported);
                                 w.add_sa(std::span<const wire::Proposal>(&answer, 1));
                                 w.add_ts(PayloadType::ts_i, w_tsi);
                                 w.add_ts(PayloadType::ts_r, w_tsr);
                               });
    if (!msg) return down(s, out, "cannot build IKE_AUTH response", msg.status().code());
    if (ca.error || childless) {
      respond(s, m.header.message_id, std::move(*msg), out);
      report_up(s, now, out);
      if (ca.error) {
        log(LogLevel::info, &s, "child SA refused: " + ca.why);
        release_child_spi(s);
        emit(out, s, EventKind::child_sa_failed, ca.why, Errc::invalid_value);
      }
      return;
    }
    Datagrams response = std::move(*msg);
    NewChild n;
    n.config = ca.config;
    n.chosen = &*ca.chosen;
    n.inbound_spi = s.child_inbound_spi;
    n.local = ca.tsr;
    n.remote = ca.tsi;
    n.mode = ca.mode;
    n.peer_no_tfc = a.no_tfc;
    n.ni = s.ni;
    n.nr = s.nr;
    n.we_initiated = false;
    s.child_spi_reserved = false;  // the host installs it now
    (void)install_child(s, now, n, out, [&] {
      respond(s, m.header.message_id, std::move(response), out);
      report_up(s, now, out);
    });
  }

  // ChildAnswer: a responder's decision on a child SA request.
  struct ChildAnswer {
    std::optional<NotifyType> error;
    std::string why;
    crypto::KeGroup wanted_group = crypto::KeGroup::none;  // INVALID_KE_PAYLOAD
    size_t config = 0;
    std::optional<Selected> chosen;
    std::vector<TsRange> tsi, tsr;  // narrowed (2.9)
    esp::Mode mode = esp::Mode::tunnel;
    void fail(NotifyType type, std::string text) {
      error = type;
      why = std::move(text);
    }
  };

  // negotiate_child: choose the child config, proposal and traffic
  // selectors for the peer's request (RFC 7296 2.7, 2.9): the first of the
  // connection's children (or only `only`, for a rekey) that both a
  // proposal and the traffic selectors fit. with_ke: CREATE_CHILD_SA, where
  // a chosen key exchange needs a matching KEi (1.3.1).
  [[nodiscard]] ChildAnswer negotiate_child(Session& s, const AuthPayloads& a, std::optional<size_t> only,
                                            bool with_ke, Sink& out) {
    ChildAnswer ca;
    if (!a.sa || !a.tsi || !a.tsr) {
      ca.fail(NotifyType::invalid_syntax, "child SA request without SA, TSi or TSr");
      return ca;
    }
    const auto& children = s.conn->children;
    bool proposal_matched = false;
    for (size_t i = 0; i < children.size(); ++i) {
      if (only && *only != i) continue;
      const ChildConfig& cc = children[i];
      auto pick = select_proposal(cc.proposals, *a.sa);
      if (!pick) continue;
      proposal_matched = true;
      std::vector<TsRange> tsi = narrow(ranges_of(*a.tsi), cc.remote_ts);
      std::vector<TsRange> tsr = narrow(ranges_of(*a.tsr), cc.local_ts);
      bool authorized = !tsi.empty() && !tsr.empty();
      for (const sa::Selector& sel : selectors(tsr, tsi))
        authorized = authorized && sa::Pad::authorize_child(*s.peer_entry, sel);
      if (!authorized) continue;
      ca.config = i;
      ca.chosen = std::move(*pick);
      ca.tsi = std::move(tsi);
      ca.tsr = std::move(tsr);
      ca.mode = (a.transport && cc.mode == esp::Mode::transport) ? esp::Mode::transport : esp::Mode::tunnel;
      break;
    }
    if (!ca.chosen) {
      if (!proposal_matched) {
        const size_t first = only.value_or(0);
        ca.fail(NotifyType::no_proposal_chosen,
                children.empty() ? std::string("no child SA configured")
                                 : "child SA " + mismatch_text(children[first].proposals, *a.sa));
        emit(out, s, EventKind::proposal_mismatch, ca.why, Errc::invalid_value);
      } else {
        ca.fail(NotifyType::ts_unacceptable, "traffic selectors unacceptable");
      }
      return ca;
    }
    if (with_ke) {
      const auto ke = ca.chosen->get(wire::TransformType::ke);
      const auto group = ke ? static_cast<crypto::KeGroup>(ke->id) : crypto::KeGroup::none;
      if (group != crypto::KeGroup::none && (!a.ke || a.ke->group != group)) {
        ca.wanted_group = group;
        ca.fail(NotifyType::invalid_ke_payload,
                "key exchange " + std::string(crypto::to_string(group)) + " wanted for PFS");
      }
    }
    return ca;
  }

  void on_auth_response(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    AuthPayloads a;
    if (!collect_auth(m, PayloadType::id_r, &a).ok())
      return down(s, out, "malformed IKE_AUTH response", Errc::invalid_value);
    if (!a.auth && a.error == NotifyType::authentication_failed) {
      const std::string why = "peer sent AUTHENTICATION_FAILED";
      emit(out, s, EventKind::authentication_failed, why, Errc::integrity_check_failed,
           AuthFailure::peer_refused);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    if (!a.id || !a.auth) {
      if (a.error) return down(s, out, "peer sent " + std::string(to_string(*a.error)), Errc::invalid_value);
      emit(out, s, EventKind::authentication_failed, "IDr or AUTH missing", Errc::integrity_check_failed,
           AuthFailure::missing_payload);
      return down(s, out, "IDr or AUTH missing", Errc::integrity_check_failed);
    }
    s.remote_id_text = id_text(a.id->type, a.id->data);
    std::string detail;
    AuthFailure failure = AuthFailure::none;
    if (s.peer_entry == nullptr || !s.peer_entry->applies(a.id->type, a.id->data, s.path.remote.address)) {
      failure = AuthFailure::identity_mismatch;
      detail = "the responder is not the configured peer";
    } else {
      failure = verify_peer_auth(s, *s.peer_entry, a, now, &detail);
    }
    if (failure != AuthFailure::none) {
      std::string why =
          "authentication of '" + s.remote_id_text + "' failed: " + std::string(to_string(failure));
      if (!detail.empty()) why += " (" + detail + ")";
      emit(out, s, EventKind::authentication_failed, why, Errc::integrity_check_failed, failure);
      // RFC 7296 2.21.2: tell the responder in a separate INFORMATIONAL.
      auto msg = build_protected(
          s, wire::ExchangeType::informational, false, s.next_mid,
          [&](wire::PayloadChainWriter& w) { w.add_notify(NotifyType::authentication_failed); });
      flush_log(s);
      if (msg) send_all(out, s.path, *msg);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    s.peer_id_type = a.id->type;
    s.peer_id.assign(a.id->data.begin(), a.id->data.end());
    if (a.window_size) s.peer_window = std::clamp<uint32_t>(*a.window_size, 1, kMaxWindow);
    report_up(s, now, out);
    if (!s.conn->children.empty()) auth_response_child(s, now, a, out);
    // RFC 7296 1.3.1: the connection's further children follow in
    // CREATE_CHILD_SA exchanges.
    for (size_t i = 1; i < s.conn->children.size(); ++i) s.tasks.push_back(Task{TaskKind::create_child, i});
    pump(s, now, out);
  }

  void auth_response_child(Session& s, Timestamp now, const AuthPayloads& a, Sink& out) {
    const ChildConfig& cc = s.conn->children.front();
    if (a.error || !a.sa || !a.tsi || !a.tsr) {
      const std::string why = a.error ? "peer refused the child SA: " + std::string(to_string(*a.error))
                                      : "no child SA in the response";
      if (a.error == NotifyType::no_proposal_chosen) {
        emit(out, s, EventKind::proposal_mismatch,
             "child SA: peer sent NO_PROPOSAL_CHOSEN for [" + proposals_text(cc.proposals) + "]",
             Errc::invalid_value);
      }
      log(LogLevel::info, &s, why);
      release_child_spi(s);
      emit(out, s, EventKind::child_sa_failed, why, Errc::invalid_value);
      return;
    }
    auto chosen = select_proposal(cc.proposals, *a.sa);
    std::vector<TsRange> tsi = ranges_of(*a.tsi), tsr = ranges_of(*a.tsr);
    std::string why;
    if (!chosen || a.sa->proposals.size() != 1) {
      why = "peer chose a child proposal we did not offer";
    } else if (tsi.empty() || tsr.empty() || !subset(tsi, cc.local_ts) || !subset(tsr, cc.remote_ts)) {
      why = "peer's traffic selectors are not a subset of ours";
    } else if (chosen->spi.size() != 4) {
      why = "peer's child SPI has the wrong size";
    }
    if (!why.empty()) {
      // RFC 7296 2.9: the initiator deletes a child it cannot accept; it
      // was never installed here, so only the peer's half needs deleting.
      release_child_spi(s);
      emit(out, s, EventKind::child_sa_failed, why, Errc::invalid_value);
      return;
    }
    NewChild n;
    n.config = 0;
    n.chosen = &*chosen;
    n.inbound_spi = s.child_inbound_spi;
    n.local = std::move(tsi);
    n.remote = std::move(tsr);
    n.mode = (a.transport && cc.mode == esp::Mode::transport) ? esp::Mode::transport : esp::Mode::tunnel;
    n.peer_no_tfc = a.no_tfc;
    n.ni = s.ni;
    n.nr = s.nr;
    n.we_initiated = true;
    s.child_spi_reserved = false;
    (void)install_child(s, now, n, out, [] {});
  }

  // ---- established IKE SA: our requests (RFC 7296 1.3, 1.4) -------------

  [[nodiscard]] static Child* find_child(Session& s, uint32_t inbound_spi) {
    for (Child& c : s.children) {
      if (c.inbound_spi == inbound_spi) return &c;
    }
    return nullptr;
  }
  [[nodiscard]] static Child* find_child_by_outbound(Session& s, uint32_t outbound_spi) {
    for (Child& c : s.children) {
      if (c.outbound_spi == outbound_spi) return &c;
    }
    return nullptr;
  }
  // owner_of: the IKE SA holding the child with this inbound SPI.
  [[nodiscard]] Session* owner_of(uint32_t inbound_spi) {
    for (auto& [handle, s] : sessions) {
      if (find_child(*s, inbound_spi) != nullptr) return s.get();
    }
    return nullptr;
  }
  [[nodiscard]] static bool has_request(const Session& s, TaskKind kind) {
    return std::any_of(s.requests.begin(), s.requests.end(),
                       [&](const Request& r) { return r.task.kind == kind; });
  }
  [[nodiscard]] static bool has_task(const Session& s, TaskKind kind, uint32_t child_spi = 0) {
    auto same = [&](const Task& t) { return t.kind == kind && t.child_spi == child_spi; };
    return std::any_of(s.tasks.begin(), s.tasks.end(), same) ||
           std::any_of(s.requests.begin(), s.requests.end(), [&](const Request& r) { return same(r.task); });
  }
  // child_exchange_out: one of our child SA exchanges is outstanding.
  [[nodiscard]] static bool child_exchange_out(const Session& s) {
    return has_request(s, TaskKind::create_child) || has_request(s, TaskKind::rekey_child) ||
           has_request(s, TaskKind::delete_child);
  }

  void queue(Session& s, Task t, Timestamp now, Sink& out) {
    s.tasks.push_back(t);
    pump(s, now, out);
  }

  // pump: start queued exchanges while the peer's window has room. An IKE
  // SA rekey goes alone (nothing else may use the IKE SA meanwhile).
  void pump(Session& s, Timestamp now, Sink& out) {
    while (s.phase == Phase::established && !s.tasks.empty() && s.requests.size() < s.peer_window &&
           !has_request(s, TaskKind::rekey_ike)) {
      auto it =
          std::find_if(s.tasks.begin(), s.tasks.end(), [&](const Task& t) { return t.not_before <= now; });
      if (it == s.tasks.end()) break;
      if (it->kind == TaskKind::rekey_ike && !s.requests.empty()) break;
      const Task t = *it;
      s.tasks.erase(it);
      if (!start_task(s, t, now, out)) return;  // the IKE SA is gone
    }
    s.task_wake.reset();
    if (s.phase == Phase::established && s.requests.size() < s.peer_window &&
        !has_request(s, TaskKind::rekey_ike)) {
      for (const Task& t : s.tasks) {
        if (t.not_before > now && (t.kind != TaskKind::rekey_ike || s.requests.empty()) &&
            (!s.task_wake || t.not_before < *s.task_wake))
          s.task_wake = t.not_before;
      }
    }
    finish_reauth(s, now, out);
    rearm(s);
  }

  // start_task: send the request for `t`. Returns false when the IKE SA
  // was destroyed.
  bool start_task(Session& s, const Task& t, Timestamp now, Sink& out) {
    switch (t.kind) {
      case TaskKind::initial: return true;
      case TaskKind::create_child:
      case TaskKind::rekey_child: start_child_exchange(s, t, now, out); return true;
      case TaskKind::delete_child: start_delete_child(s, t, now, out); return true;
      case TaskKind::rekey_ike: start_ike_rekey(s, t, now, out); return true;
      case TaskKind::delete_ike: return start_delete_ike(s, now, out);
      case TaskKind::dpd: {
        auto msg = build_protected(s, wire::ExchangeType::informational, false, s.next_mid,
                                   [](wire::PayloadChainWriter&) {});
        if (msg) (void)send_request(s, wire::ExchangeType::informational, std::move(*msg), now, out, t);
        return true;
      }
    }
    return true;
  }

  // start_child_exchange: CREATE_CHILD_SA for a new child (1.3.1) or a
  // rekey (1.3.3: N(REKEY_SA) names our inbound SPI of the old one).
  void start_child_exchange(Session& s, const Task& t, Timestamp now, Sink& out) {
    Child* old = nullptr;
    size_t index = t.config;
    if (t.kind == TaskKind::rekey_child) {
      old = find_child(s, t.child_spi);
      if (old == nullptr || old->phase != ChildPhase::installed) return;  // gone or replaced meanwhile
      index = old->config;
    }
    if (index >= s.conn->children.size()) return;
    const ChildConfig& cc = s.conn->children[index];
    Request r;
    r.nonce = new_nonce();
    // PFS (1.3.1): KEi for the requested group, else the first one offered.
    crypto::KeGroup group = t.group;
    if (group == crypto::KeGroup::none) {
      for (const ProposalConfig& p : cc.proposals) {
        const auto g = p.of_type(wire::TransformType::ke);
        if (!g.empty() && g.front().id != 0) {
          group = static_cast<crypto::KeGroup>(g.front().id);
          break;
        }
      }
    }
    if (group != crypto::KeGroup::none) {
      auto ke = provider.make_key_exchange(group, rng);
      if (!ke) return child_request_failed(s, t, old, "key exchange unavailable", out);
      r.ke = std::move(*ke);
    }
    if (config.spi_allocator != nullptr) {
      auto spi = config.spi_allocator->allocate();
      if (!spi) return child_request_failed(s, t, old, "no SPI for the child SA", out);
      r.child_spi = *spi;
      r.child_spi_reserved = true;
    } else {
      r.child_spi = random_child_spi();
    }
    const auto proposals = child_proposals(cc, r.child_spi, true);
    const auto tsi = wire_of(old != nullptr ? std::span<const TsRange>(old->local_ts) : cc.local_ts);
    const auto tsr = wire_of(old != nullptr ? std::span<const TsRange>(old->remote_ts) : cc.remote_ts);
    const esp::Mode mode = old != nullptr ? old->mode : cc.mode;
    const auto old_spi = spi32_bytes(old != nullptr ? old->inbound_spi : 0);
    const wire::ProtocolId old_protocol = old != nullptr && old->protocol == esp::SecurityProtocol::ah
                                              ? wire::ProtocolId::ah
                                              : wire::ProtocolId::esp;
    auto msg = build_protected(
        s, wire::ExchangeType::create_child_sa, false, s.next_mid, [&](wire::PayloadChainWriter& w) {
          if (old != nullptr)
            w.add_notify(wire::NotifyPayload{old_protocol, NotifyType::rekey_sa, old_spi, {}});
          if (mode == esp::Mode::transport) w.add_notify(NotifyType::use_transport_mode);
          if (!cc.tfc_padding) w.add_notify(NotifyType::esp_tfc_padding_not_supported);
          w.add_sa(proposals.proposals);
          w.add_nonce(r.nonce);
          if (r.ke) w.add_ke({r.ke->group(), r.ke->public_value()});
          w.add_ts(PayloadType::ts_i, tsi);
          w.add_ts(PayloadType::ts_r, tsr);
        });
    if (!msg) {
      release_request(r);
      return child_request_failed(s, t, old, "cannot build CREATE_CHILD_SA", out);
    }
    if (old != nullptr) old->phase = ChildPhase::rekeying;
    Request& sent = send_request(s, wire::ExchangeType::create_child_sa, std::move(*msg), now, out, t);
    sent.nonce = std::move(r.nonce);
    sent.ke = std::move(r.ke);
    sent.child_spi = r.child_spi;
    sent.child_spi_reserved = r.child_spi_reserved;
  }

  void child_request_failed(Session& s, const Task& t, Child* old, std::string_view why, Sink& out) {
    log(LogLevel::info, &s,
        std::string(t.kind == TaskKind::rekey_child ? "rekey" : "child SA") + " failed: " + std::string(why));
    if (old != nullptr) old->phase = ChildPhase::installed;
    emit(out, s, EventKind::child_sa_failed, why, Errc::limit_exceeded);
  }

  [[nodiscard]] uint32_t random_child_spi() {
    while (true) {
      std::array<uint8_t, 4> b{};
      rng.fill(b);
      const uint32_t spi = load_be32(b);
      if (spi >= sa::Sad::kMinSpi) return spi;
    }
  }

  void start_delete_child(Session& s, const Task& t, Timestamp now, Sink& out) {
    Child* c = find_child(s, t.child_spi);
    if (c != nullptr && c->phase == ChildPhase::deleting) return;
    const bool ah = c != nullptr ? c->protocol == esp::SecurityProtocol::ah : t.ah;
    const auto spi = spi32_bytes(t.child_spi);
    auto msg = build_protected(
        s, wire::ExchangeType::informational, false, s.next_mid, [&](wire::PayloadChainWriter& w) {
          w.add_delete(wire::DeletePayload{ah ? wire::ProtocolId::ah : wire::ProtocolId::esp, 4, 1, spi});
        });
    if (!msg) return;
    if (c != nullptr) c->phase = ChildPhase::deleting;
    (void)send_request(s, wire::ExchangeType::informational, std::move(*msg), now, out, t);
  }

  // start_delete_ike: INFORMATIONAL with Delete(IKE) (1.4.1); its children
  // go with it. Returns false when the IKE SA was destroyed.
  bool start_delete_ike(Session& s, Timestamp now, Sink& out) {
    auto msg = build_protected(s, wire::ExchangeType::informational, false, s.next_mid,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_delete(wire::DeletePayload{wire::ProtocolId::ike, 0, 0, {}});
                               });
    if (!msg) {
      down(s, out, "closed");
      return false;
    }
    while (!s.children.empty()) child_down(s, s.children.back().inbound_spi, out, "IKE SA deleted", false);
    s.tasks.clear();
    for (Request& r : s.requests) release_request(r);
    s.requests.clear();
    s.phase = Phase::deleting;
    (void)send_request(s, wire::ExchangeType::informational, std::move(*msg), now, out,
                       Task{TaskKind::delete_ike});
    return true;
  }

  // start_ike_rekey: CREATE_CHILD_SA with an IKE proposal carrying our new
  // SPI, Ni and KEi (RFC 7296 1.3.2).
  void start_ike_rekey(Session& s, const Task& t, Timestamp now, Sink& out) {
    auto n = std::make_unique<Session>();
    n->handle = new_spi();
    n->spi_i = n->handle;
    n->initiator = true;  // the rekey's initiator is the new IKE SA's (2.18)
    const crypto::KeGroup group = t.group != crypto::KeGroup::none ? t.group : s.suite.group;
    auto ke = provider.make_key_exchange(group, rng);
    if (!ke) return;
    Request r;
    r.nonce = new_nonce();
    const auto spi = spi_bytes(n->handle);
    std::vector<wire::Proposal> proposals;
    for (size_t i = 0; i < s.conn->ike_proposals.size(); ++i) {
      proposals.push_back(wire::Proposal{static_cast<uint8_t>(i + 1), wire::ProtocolId::ike, spi,
                                         s.conn->ike_proposals[i].transforms});
    }
    auto msg = build_protected(s, wire::ExchangeType::create_child_sa, false, s.next_mid,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_sa(proposals);
                                 w.add_nonce(r.nonce);
                                 w.add_ke({(*ke)->group(), (*ke)->public_value()});
                               });
    if (!msg) return;
    log(LogLevel::info, &s, "rekeying the IKE SA");
    Request& sent = send_request(s, wire::ExchangeType::create_child_sa, std::move(*msg), now, out, t);
    sent.nonce = std::move(r.nonce);
    sent.ke = std::move(*ke);
    sent.new_ike = std::move(n);
  }

  // ---- established IKE SA: responses to our requests ---------------------

  void on_response(Session& s, Request r, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    AuthPayloads a;
    const bool well_formed = collect_auth(m, PayloadType::id_r, &a).ok();
    switch (r.task.kind) {
      case TaskKind::initial: break;
      case TaskKind::create_child:
      case TaskKind::rekey_child:
        if (!well_formed) a = AuthPayloads{}, a.error = NotifyType::invalid_syntax;
        on_child_response(s, std::move(r), a, now, out);
        break;
      case TaskKind::delete_child:
        if (find_child(s, r.task.child_spi) != nullptr) child_down(s, r.task.child_spi, out, "deleted");
        break;
      case TaskKind::rekey_ike:
        if (!well_formed) a = AuthPayloads{}, a.error = NotifyType::invalid_syntax;
        return on_ike_rekey_response(s, std::move(r), a, now, out);  // may destroy s
      case TaskKind::delete_ike: return down(s, out, "deleted");
      case TaskKind::dpd: break;
    }
    pump(s, now, out);
  }

  // retry_later: the peer answered TEMPORARY_FAILURE (2.25): wait, then
  // try again; give up on the IKE SA after too many.
  void retry_later(Session& s, Task t, Timestamp now, Sink& out) {
    if (++t.temporary_failures > config.temporary_failure_give_up) {
      log(LogLevel::info, &s, "TEMPORARY_FAILURE for too long: closing the IKE SA");
      s.tasks.insert(s.tasks.begin(), Task{TaskKind::delete_ike});
      return;
    }
    t.not_before = now + jittered(config.temporary_failure_retry, 0.5);
    t.group = crypto::KeGroup::none;
    s.tasks.push_back(t);
    (void)out;
  }

  // redundant_wait: how long a replaced SA waits for the peer's Delete:
  // longer than the peer retransmits the exchange that replaced it (our
  // own policy stands for the peer's: 4 s x 1.8^n over 5 tries is 165 s),
  // so that a lost response is never overtaken by our cleanup.
  [[nodiscard]] Duration redundant_wait() const {
    double span = 0;
    for (uint32_t k = 0; k <= config.retransmit.tries; ++k) span += std::pow(config.retransmit.base, k);
    return std::chrono::duration_cast<Duration>(config.retransmit.initial * span) + std::chrono::seconds(10);
  }

  void on_child_response(Session& s, Request r, const AuthPayloads& a, Timestamp now, Sink& out) {
    Child* old = r.task.kind == TaskKind::rekey_child ? find_child(s, r.task.child_spi) : nullptr;
    auto restore_old = [&] {
      if (old != nullptr && old->phase == ChildPhase::rekeying) old->phase = ChildPhase::installed;
    };
    const size_t index = old != nullptr ? old->config : r.task.config;
    if (a.error || index >= s.conn->children.size()) {
      release_request(r);
      const NotifyType error = a.error.value_or(NotifyType::invalid_syntax);
      if (error == NotifyType::temporary_failure) {
        if (r.collided) {
          // 2.25.1: the peer rekeyed it first; its new SA replaces the old.
          if (old != nullptr) mark_redundant(*old, now);
          return;
        }
        restore_old();
        if (r.task.kind == TaskKind::create_child || old != nullptr) retry_later(s, r.task, now, out);
        return;
      }
      if (error == NotifyType::child_sa_not_found && r.task.kind == TaskKind::rekey_child) {
        // 2.25: the peer has no such child: drop ours and start afresh.
        if (old != nullptr) {
          const size_t config_index = old->config;
          child_down(s, old->inbound_spi, out, "the peer does not know it (CHILD_SA_NOT_FOUND)");
          s.tasks.push_back(Task{TaskKind::create_child, config_index});
        }
        return;
      }
      if (error == NotifyType::invalid_ke_payload && a.error_data.size() == 2 &&
          r.task.group == crypto::KeGroup::none) {
        const auto group = static_cast<crypto::KeGroup>(load_be16(a.error_data.first<2>()));
        bool offered = false;
        for (const ProposalConfig& p : s.conn->children[index].proposals) {
          for (const wire::Transform& x : p.of_type(wire::TransformType::ke))
            offered = offered || static_cast<crypto::KeGroup>(x.id) == group;
        }
        restore_old();
        if (offered) {
          Task t = r.task;
          t.group = group;
          s.tasks.insert(s.tasks.begin(), t);
          return;
        }
      }
      restore_old();
      if (old != nullptr) old->rekey_at.reset();  // it lives until its hard lifetime
      const std::string why = "peer refused the child SA: " + std::string(to_string(error));
      if (error == NotifyType::no_proposal_chosen) {
        emit(out, s, EventKind::proposal_mismatch,
             "child SA: peer sent NO_PROPOSAL_CHOSEN for [" +
                 proposals_text(s.conn->children[index].proposals) + "]",
             Errc::invalid_value);
      }
      log(LogLevel::info, &s, why);
      emit(out, s, EventKind::child_sa_failed, why, Errc::invalid_value);
      return;
    }
    const ChildConfig& cc = s.conn->children[index];
    auto chosen = a.sa ? select_proposal(cc.proposals, *a.sa) : Result<Selected>(Errc::invalid_value);
    std::vector<TsRange> tsi = a.tsi ? ranges_of(*a.tsi) : std::vector<TsRange>{};
    std::vector<TsRange> tsr = a.tsr ? ranges_of(*a.tsr) : std::vector<TsRange>{};
    const std::span<const TsRange> asked_i =
        old != nullptr ? std::span<const TsRange>(old->local_ts) : cc.local_ts;
    const std::span<const TsRange> asked_r =
        old != nullptr ? std::span<const TsRange>(old->remote_ts) : cc.remote_ts;
    std::string why;
    SecretBytes shared;
    if (!chosen || a.sa->proposals.size() != 1 || !a.nonce) {
      why = "peer chose a child proposal we did not offer";
    } else if (tsi.empty() || tsr.empty() || !subset(tsi, asked_i) || !subset(tsr, asked_r)) {
      why = "peer's traffic selectors are not a subset of ours";
    } else if (chosen->spi.size() != 4) {
      why = "peer's child SPI has the wrong size";
    } else {
      const auto ke = chosen->get(wire::TransformType::ke);
      const auto group = ke ? static_cast<crypto::KeGroup>(ke->id) : crypto::KeGroup::none;
      if (group != crypto::KeGroup::none) {
        if (!r.ke || r.ke->group() != group || !a.ke || a.ke->group != group) {
          why = "peer's key exchange does not match the proposal";
        } else if (auto sh = r.ke->shared_secret(a.ke->data); !sh) {
          why = "invalid key exchange value";
        } else {
          shared = std::move(*sh);
        }
      }
    }
    if (!why.empty()) {
      // 2.21.3: a child we cannot accept is deleted at the peer.
      release_request(r);
      restore_old();
      emit(out, s, EventKind::child_sa_failed, why, Errc::invalid_value);
      if (chosen && chosen->spi.size() == 4) {
        // Delete what the peer installed (its inbound SPI is in the SA payload).
        s.tasks.push_back(Task{TaskKind::delete_child, 0, r.child_spi});
      }
      return;
    }
    NewChild n;
    n.config = index;
    n.chosen = &*chosen;
    n.inbound_spi = r.child_spi;
    n.local = std::move(tsi);
    n.remote = std::move(tsr);
    n.mode = (a.transport && (old != nullptr ? old->mode : cc.mode) == esp::Mode::transport)
                 ? esp::Mode::transport
                 : esp::Mode::tunnel;
    n.peer_no_tfc = a.no_tfc;
    n.ni = r.nonce;
    n.nr = *a.nonce;
    n.shared = shared.view();
    n.we_initiated = true;
    n.rekeys = old != nullptr ? old->inbound_spi : 0;
    // 2.8.1: after a collision the SA made with the lowest of the four
    // nonces is redundant and closed by whoever initiated it.
    bool ours_redundant = false;
    if (r.collided) {
      ++stats.collisions;
      const ByteView ours[] = {r.nonce, *a.nonce};
      const ByteView theirs[] = {r.peer_ni, r.our_nr};
      ours_redundant = lowest_is_ours(ours, theirs);
      n.outbound = !ours_redundant;  // the surviving SA already carries our traffic
    }
    r.child_spi_reserved = false;  // the host installs it now
    const uint32_t old_spi = old != nullptr ? old->inbound_spi : 0;
    const uint32_t peer_child = r.peer_child;
    if (!install_child(s, now, n, out, [] {})) {
      restore_old();
      return;
    }
    old = old_spi != 0 ? find_child(s, old_spi) : nullptr;  // install_child grew the vector
    if (r.collided) {
      log(LogLevel::info, &s,
          std::string("rekey collision: ") +
              (ours_redundant ? "our new SA is redundant" : "our new SA survives"));
      if (ours_redundant) {
        if (Child* mine = find_child(s, n.inbound_spi)) mine->phase = ChildPhase::rekeyed;
        s.tasks.push_back(Task{TaskKind::delete_child, 0, n.inbound_spi});
        if (old != nullptr) mark_redundant(*old, now);  // the peer deletes the old one
        return;
      }
      if (Child* theirs = find_child(s, peer_child)) mark_redundant(*theirs, now);
    }
    if (old != nullptr) {
      // 2.8: the rekey's initiator deletes the old SA once the new one is up.
      old->phase = ChildPhase::rekeyed;
      s.tasks.push_back(Task{TaskKind::delete_child, 0, old->inbound_spi});
    }
  }

  // lowest_is_ours: whether the lowest of the four nonces of two colliding
  // exchanges is one of ours (our exchange's Ni and Nr).
  [[nodiscard]] static bool lowest_is_ours(std::span<const ByteView> ours, std::span<const ByteView> theirs) {
    auto less = [](ByteView x, ByteView y) {
      return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
    };
    ByteView lowest = ours[0];
    bool mine = true;
    for (ByteView v : ours)
      if (less(v, lowest)) lowest = v;
    for (ByteView v : theirs) {
      if (less(v, lowest)) {
        lowest = v;
        mine = false;
      }
    }
    return mine;
  }

  // mark_redundant: a child the peer is to delete (replaced by a rekey);
  // deleted by us if its Delete does not come.
  void mark_redundant(Child& c, Timestamp now) {
    c.pending_outbound.reset();  // never to carry our traffic
    c.phase = ChildPhase::rekeyed;
    c.rekey_at.reset();
    c.redundant_at = now + redundant_wait();
  }

  void on_ike_rekey_response(Session& s, Request r, const AuthPayloads& a, Timestamp now, Sink& out) {
    if (a.error) {
      if (*a.error == NotifyType::temporary_failure) {
        if (r.collided) {
          // The peer's rekey went first: its new IKE SA takes the children.
          if (auto it = sessions.find(r.peer_ike); it != sessions.end()) adopt(*it->second, s, now, out);
        } else {
          retry_later(s, r.task, now, out);
        }
      } else if (*a.error == NotifyType::invalid_ke_payload && a.error_data.size() == 2 &&
                 r.task.group == crypto::KeGroup::none) {
        Task t = r.task;
        t.group = static_cast<crypto::KeGroup>(load_be16(a.error_data.first<2>()));
        s.tasks.insert(s.tasks.begin(), t);
      } else {
        log(LogLevel::info, &s, "peer refused the IKE SA rekey: " + std::string(to_string(*a.error)));
        s.rekey_at.reset();  // reauthentication or the peer's own rekey may follow
      }
      return pump(s, now, out);
    }
    std::unique_ptr<Session> n = std::move(r.new_ike);
    auto chosen =
        a.sa ? select_proposal(s.conn->ike_proposals, *a.sa) : Result<Selected>(Errc::invalid_value);
    if (!chosen || a.sa->proposals.size() != 1 || chosen->spi.size() != 8 || !a.nonce || !a.ke) {
      log(LogLevel::info, &s, "invalid IKE SA rekey response");
      s.rekey_at.reset();
      return pump(s, now, out);
    }
    n->spi_r = load_be64(chosen->spi.first<8>());
    n->suite = suite_of(*chosen);
    n->suite_text = transforms_text(chosen->transforms);
    n->ni = r.nonce;
    n->nr.assign(a.nonce->begin(), a.nonce->end());
    auto shared = n->suite.group == r.ke->group() && a.ke->group == r.ke->group()
                      ? r.ke->shared_secret(a.ke->data)
                      : Result<SecretBytes>(Errc::invalid_value);
    if (!shared || n->spi_r == 0 || !derive_ike_keys(*n, shared->view(), &s).ok()) {
      log(LogLevel::info, &s, "IKE SA rekey failed: bad key exchange");
      s.rekey_at.reset();
      return pump(s, now, out);
    }
    Session& fresh = inherit(std::move(n), s, now);
    export_keys(fresh, out);
    if (r.collided) {
      ++stats.collisions;
      const ByteView ours[] = {fresh.ni, fresh.nr};
      const ByteView theirs[] = {r.peer_ni, r.our_nr};
      auto peer = sessions.find(r.peer_ike);
      if (lowest_is_ours(ours, theirs) && peer != sessions.end()) {
        // 2.8.2: ours is redundant: we delete it; the peer's takes the
        // children and the peer deletes the old IKE SA.
        log(LogLevel::info, &s, "IKE rekey collision: our new IKE SA is redundant");
        adopt(*peer->second, s, now, out);
        (void)start_delete_ike(fresh, now, out);
        return;
      }
      log(LogLevel::info, &s, "IKE rekey collision: our new IKE SA survives");
      if (peer != sessions.end()) {
        peer->second->phase = Phase::rekeyed;
        peer->second->rekeyed_deadline = now + redundant_wait();
        rearm(*peer->second);
      }
    }
    adopt(fresh, s, now, out);
    // 2.18: the old IKE SA is deleted by the rekey's initiator.
    (void)start_delete_ike_keep_children(s, now, out);
  }

  // inherit: a new IKE SA made by a rekey of `old` (2.18), established.
  Session& inherit(std::unique_ptr<Session> n, const Session& old, Timestamp now) {
    n->conn = old.conn;
    n->phase = Phase::established;
    n->path = old.path;
    n->created = now;
    n->nat = old.nat;
    n->peer_fragmentation = old.peer_fragmentation;
    n->peer_signature_hashes = old.peer_signature_hashes;
    n->peer_childless = old.peer_childless;
    n->local_id_text = old.local_id_text;
    n->remote_id_text = old.remote_id_text;
    n->peer_id_type = old.peer_id_type;
    n->peer_id = old.peer_id;
    n->peer_entry = old.peer_entry;
    n->peer_window = old.peer_window;
    n->last_heard = now;
    n->unannounced = true;
    Session& s = add_session(std::move(n));
    schedule_ike(s, now);
    rearm(s);
    return s;
  }

  // adopt: `fresh` replaces `old`: children and queued work move over, the
  // host hears of it, and `old` waits for its Delete.
  void adopt(Session& fresh, Session& old, Timestamp now, Sink& out) {
    for (Child& c : old.children) fresh.children.push_back(std::move(c));
    old.children.clear();
    for (const Task& t : old.tasks) {
      if (t.kind != TaskKind::rekey_ike && t.kind != TaskKind::dpd) fresh.tasks.push_back(t);
    }
    old.tasks.clear();
    fresh.reauth_of = old.reauth_of;
    old.reauth_of = 0;
    fresh.unannounced = false;
    old.phase = Phase::rekeyed;
    old.replaced = true;
    old.rekeyed_deadline = now + redundant_wait();
    ++stats.ike_rekeys;
    log(LogLevel::info, &fresh,
        "IKE SA rekeyed from " + hex(spi_bytes(old.handle)) + ", " + fresh.suite_text);
    Event e;
    e.kind = EventKind::ike_sa_rekeyed;
    e.ike_sa = fresh.handle;
    e.previous_ike_sa = old.handle;
    e.connection = fresh.conn->name;
    out.on_event(e);
    rearm(old);
    pump(fresh, now, out);
  }

  // start_delete_ike_keep_children: Delete(IKE) on an IKE SA whose children
  // moved to its successor.
  bool start_delete_ike_keep_children(Session& s, Timestamp now, Sink& out) {
    s.children.clear();
    return start_delete_ike(s, now, out);
  }

  // finish_reauth: a reauthenticating IKE SA with its children up deletes
  // the one it replaces (make-before-break).
  void finish_reauth(Session& s, Timestamp now, Sink& out) {
    if (s.reauth_of == 0 || s.phase != Phase::established || has_task(s, TaskKind::create_child)) return;
    for (const Request& r : s.requests) {
      if (r.task.kind == TaskKind::create_child) return;
    }
    const uint64_t old = s.reauth_of;
    s.reauth_of = 0;
    auto it = sessions.find(old);
    if (it == sessions.end()) return;
    log(LogLevel::info, &s, "reauthenticated: deleting the previous IKE SA " + hex(spi_bytes(old)));
    Session& o = *it->second;
    if (o.phase == Phase::established || o.phase == Phase::rekeyed) (void)start_delete_ike(o, now, out);
  }

  // ---- established IKE SA: the peer's requests ---------------------------

  void on_informational_request(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    bool delete_ike = false;
    bool auth_refused = false;
    std::vector<uint8_t> our_spis;
    std::vector<uint32_t> gone;
    for (const wire::PayloadView& p : m.payloads()) {
      if (!p.encrypted) continue;
      if (p.type == PayloadType::notify) {
        auto n = wire::decode_notify(p);
        if (n && n->type == NotifyType::set_window_size && n->data.size() == 4)
          s.peer_window = std::clamp<uint32_t>(load_be32(n->data.first<4>()), 1, kMaxWindow);
        // 2.21.2: the initiator could not authenticate us after we had
        // answered its IKE_AUTH: the IKE SA is over.
        if (n && n->type == NotifyType::authentication_failed) auth_refused = true;
        continue;
      }
      if (p.type != PayloadType::del) continue;
      auto d = wire::decode_delete(p);
      if (!d) continue;
      if (d->protocol == wire::ProtocolId::ike) delete_ike = true;
      for (size_t i = 0; i < d->spi_count && d->spi_size == 4; ++i) {
        Child* c = find_child_by_outbound(s, d->spi32(i));
        if (c == nullptr) continue;
        gone.push_back(c->inbound_spi);
        // 2.25.1: a child we are deleting ourselves is not named again.
        if (c->phase == ChildPhase::deleting) continue;
        const auto b = spi32_bytes(c->inbound_spi);
        our_spis.insert(our_spis.end(), b.begin(), b.end());
      }
    }
    const uint32_t mid = m.header.message_id;
    auto msg =
        build_protected(s, wire::ExchangeType::informational, true, mid, [&](wire::PayloadChainWriter& w) {
          if (!delete_ike && !our_spis.empty()) {
            w.add_delete(wire::DeletePayload{wire::ProtocolId::esp, 4,
                                             static_cast<uint16_t>(our_spis.size() / 4), our_spis});
          }
        });
    if (msg) respond(s, mid, std::move(*msg), out);
    if (auth_refused) {
      const std::string why = "peer sent AUTHENTICATION_FAILED";
      emit(out, s, EventKind::authentication_failed, why, Errc::integrity_check_failed,
           AuthFailure::peer_refused);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    if (delete_ike) {
      // 2.8.2: the peer finished its rekey of this IKE SA (our answer made
      // its successor) and deletes it while our own rekey is still out:
      // the peer's successor takes the children; ours is abandoned.
      for (const Request& r : s.requests) {
        if (r.task.kind != TaskKind::rekey_ike || !r.collided) continue;
        auto it = sessions.find(r.peer_ike);
        if (it == sessions.end() || it->second->phase != Phase::established) break;
        // 2.25.2: we forget our own rekey; the peer disposes of anything
        // our request made on its side.
        log(LogLevel::info, &s, "the peer completed its IKE SA rekey first: ours is abandoned");
        adopt(*it->second, s, now, out);
        break;
      }
      return down(s, out, s.phase == Phase::rekeyed ? "rekeyed" : "deleted by the peer");
    }
    for (uint32_t spi : gone) child_down(s, spi, out, "child SA deleted by the peer");
    pump(s, now, out);
  }

  // install_pending: a rekey we answered: our traffic moves to the new SA.
  void install_pending(Session& s, Child& c, Sink& out) {
    if (!c.pending_outbound) return;
    Event e;
    e.kind = EventKind::child_sa_install;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.child = &c.pending_outbound->child;
    e.direction = sa::Direction::outbound;
    out.on_event(e);
    c.pending_outbound.reset();
  }

  // child_down: the child SA is gone (its child_sa_delete event). With
  // `promote`, a successor still waiting for it to go (a rekey we answered)
  // takes over the outbound traffic first, so none goes without an SA.
  void child_down(Session& s, uint32_t inbound_spi, Sink& out, std::string_view why, bool promote = true) {
    auto it = std::find_if(s.children.begin(), s.children.end(),
                           [&](const Child& c) { return c.inbound_spi == inbound_spi; });
    if (it == s.children.end()) return;
    if (promote) {
      for (Child& c : s.children) {
        if (c.replaces == inbound_spi && c.pending_outbound) install_pending(s, c, out);
      }
    }
    ChildSa c;
    c.reqid = it->reqid;
    c.protocol = it->protocol;
    c.mode = it->mode;
    c.inbound_spi = it->inbound_spi;
    c.outbound_spi = it->outbound_spi;
    s.children.erase(it);
    // Requests about it that are still queued have nothing left to do.
    std::erase_if(s.tasks, [&](const Task& t) {
      return (t.kind == TaskKind::rekey_child || t.kind == TaskKind::delete_child) &&
             t.child_spi == inbound_spi;
    });
    Event e;
    e.kind = EventKind::child_sa_delete;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.child = &c;
    e.detail = why;
    out.on_event(e);
    rearm(s);
  }

  // answer_error: a CREATE_CHILD_SA answer with one error notify.
  void answer_error(Session& s, const wire::ParsedMessage& m, NotifyType type, Sink& out, ByteView data = {},
                    wire::ProtocolId protocol = wire::ProtocolId::none, ByteView spi = {}) {
    auto msg =
        build_protected(s, m.header.exchange, true, m.header.message_id, [&](wire::PayloadChainWriter& w) {
          w.add_notify(wire::NotifyPayload{protocol, type, spi, data});
        });
    if (msg) respond(s, m.header.message_id, std::move(*msg), out);
  }

  void on_create_child_request(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    AuthPayloads a;
    if (!collect_auth(m, PayloadType::id_i, &a).ok() || !a.sa || !a.nonce)
      return answer_error(s, m, NotifyType::invalid_syntax, out);
    bool ike_rekey = false;
    for (const wire::ProposalView& p : a.sa->proposals) {
      ike_rekey = p.protocol == wire::ProtocolId::ike;
      break;
    }
    // 2.25.2: nothing new on an IKE SA that is being rekeyed or closed.
    if (s.phase != Phase::established || has_request(s, TaskKind::delete_ike))
      return answer_error(s, m, NotifyType::temporary_failure, out);
    if (ike_rekey) return on_ike_rekey_request(s, now, a, m, out);
    if (has_request(s, TaskKind::rekey_ike)) return answer_error(s, m, NotifyType::temporary_failure, out);
    Child* old = nullptr;
    Request* ours = nullptr;  // our own rekey of the same child, if any (a collision)
    if (a.rekey_spi) {
      old = find_child_by_outbound(s, *a.rekey_spi);
      const auto spi = spi32_bytes(*a.rekey_spi);
      if (old == nullptr) {
        return answer_error(s, m, NotifyType::child_sa_not_found, out, {}, wire::ProtocolId::esp, spi);
      }
      if (old->phase == ChildPhase::deleting || old->phase == ChildPhase::rekeyed)
        return answer_error(s, m, NotifyType::temporary_failure, out);
      if (old->phase == ChildPhase::rekeying) {
        for (Request& r : s.requests) {
          if (r.task.kind == TaskKind::rekey_child && r.task.child_spi == old->inbound_spi) ours = &r;
        }
      }
    }
    if (old == nullptr && s.children.size() >= config.max_child_sas_per_ike_sa)
      return answer_error(s, m, NotifyType::no_additional_sas, out);
    ChildAnswer ca =
        negotiate_child(s, a, old != nullptr ? std::optional<size_t>(old->config) : std::nullopt, true, out);
    uint32_t spi = 0;
    bool reserved = false;
    if (!ca.error) {
      if (config.spi_allocator != nullptr) {
        auto got = config.spi_allocator->allocate();
        if (got) {
          spi = *got;
          reserved = true;
        } else {
          ca.fail(NotifyType::no_additional_sas, "no SPI for the child SA");
        }
      } else {
        spi = random_child_spi();
      }
    }
    std::unique_ptr<crypto::KeyExchange> ke;
    SecretBytes shared;
    if (!ca.error) {
      const auto ke_t = ca.chosen->get(wire::TransformType::ke);
      const auto group = ke_t ? static_cast<crypto::KeGroup>(ke_t->id) : crypto::KeGroup::none;
      if (group != crypto::KeGroup::none) {
        auto made = provider.make_key_exchange(group, rng);
        auto sh = made ? (*made)->shared_secret(a.ke->data) : Result<SecretBytes>(Errc::invalid_value);
        if (!sh) {
          ca.fail(NotifyType::invalid_syntax, "invalid key exchange value");
        } else {
          ke = std::move(*made);
          shared = std::move(*sh);
        }
      }
    }
    if (ca.error) {
      if (reserved && config.spi_allocator != nullptr) config.spi_allocator->release(spi);
      log(LogLevel::info, &s, "child SA refused: " + ca.why);
      std::array<uint8_t, 2> group{};
      store_be16(group, static_cast<uint16_t>(ca.wanted_group));
      return answer_error(s, m, *ca.error, out,
                          *ca.error == NotifyType::invalid_ke_payload ? ByteView(group) : ByteView());
    }
    const ChildConfig& cc = s.conn->children[ca.config];
    const Bytes nr = new_nonce();
    const auto our_spi = spi32_bytes(spi);
    const wire::Proposal answer = ca.chosen->as_proposal(our_spi);
    const auto w_tsi = wire_of(ca.tsi);
    const auto w_tsr = wire_of(ca.tsr);
    auto msg = build_protected(s, wire::ExchangeType::create_child_sa, true, m.header.message_id,
                               [&](wire::PayloadChainWriter& w) {
                                 if (ca.mode == esp::Mode::transport)
                                   w.add_notify(NotifyType::use_transport_mode);
                                 if (!cc.tfc_padding) w.add_notify(NotifyType::esp_tfc_padding_not_supported);
                                 w.add_sa(std::span<const wire::Proposal>(&answer, 1));
                                 w.add_nonce(nr);
                                 if (ke) w.add_ke({ke->group(), ke->public_value()});
                                 w.add_ts(PayloadType::ts_i, w_tsi);
                                 w.add_ts(PayloadType::ts_r, w_tsr);
                               });
    if (!msg) {
      if (reserved && config.spi_allocator != nullptr) config.spi_allocator->release(spi);
      return;
    }
    Datagrams response = std::move(*msg);
    NewChild n;
    n.config = ca.config;
    n.chosen = &*ca.chosen;
    n.inbound_spi = spi;
    n.local = ca.tsr;
    n.remote = ca.tsi;
    n.mode = ca.mode;
    n.peer_no_tfc = a.no_tfc;
    n.ni = *a.nonce;
    n.nr = nr;
    n.shared = shared.view();
    n.we_initiated = false;
    n.rekeys = old != nullptr ? old->inbound_spi : 0;
    n.defer_outbound = old != nullptr;
    const uint32_t old_spi = n.rekeys;
    const uint32_t mid = m.header.message_id;
    const uint32_t ours_mid = ours != nullptr ? ours->mid : 0;
    const bool installed = install_child(s, now, n, out, [&] { respond(s, mid, std::move(response), out); });
    if (!installed || old_spi == 0) return;
    old = find_child(s, old_spi);
    if (old == nullptr) return;
    if (Request* r = ours != nullptr ? find_request(s, ours_mid) : nullptr) {
      // 2.8.1: both sides rekeyed it: our exchange's outcome decides.
      r->collided = true;
      r->peer_ni.assign(a.nonce->begin(), a.nonce->end());
      r->our_nr = nr;
      r->peer_child = spi;
      return;
    }
    // The peer initiated the rekey: it deletes the old SA (2.8).
    mark_redundant(*old, now);
    std::erase_if(s.tasks,
                  [&](const Task& t) { return t.kind == TaskKind::rekey_child && t.child_spi == old_spi; });
    rearm(s);
  }

  void on_ike_rekey_request(Session& s, Timestamp now, const AuthPayloads& a, const wire::ParsedMessage& m,
                            Sink& out) {
    // 2.25.2: not while one of our child SA exchanges is out.
    if (child_exchange_out(s)) return answer_error(s, m, NotifyType::temporary_failure, out);
    auto chosen = select_proposal(s.conn->ike_proposals, *a.sa);
    if (!chosen || chosen->spi.size() != 8) return answer_error(s, m, NotifyType::no_proposal_chosen, out);
    const IkeSuite suite = suite_of(*chosen);
    if (!a.ke || a.ke->group != suite.group) {
      std::array<uint8_t, 2> g{};
      store_be16(g, static_cast<uint16_t>(suite.group));
      return answer_error(s, m, NotifyType::invalid_ke_payload, out, g);
    }
    auto ke = provider.make_key_exchange(suite.group, rng);
    if (!ke) return answer_error(s, m, NotifyType::no_proposal_chosen, out);
    auto shared = (*ke)->shared_secret(a.ke->data);
    if (!shared) return answer_error(s, m, NotifyType::invalid_syntax, out);
    auto n = std::make_unique<Session>();
    n->handle = new_spi();
    n->spi_i = load_be64(chosen->spi.first<8>());
    n->spi_r = n->handle;
    n->initiator = false;
    n->suite = suite;
    n->suite_text = transforms_text(chosen->transforms);
    n->ni.assign(a.nonce->begin(), a.nonce->end());
    n->nr = new_nonce();
    if (n->spi_i == 0 || !derive_ike_keys(*n, shared->view(), &s).ok())
      return answer_error(s, m, NotifyType::no_proposal_chosen, out);
    const auto our_spi = spi_bytes(n->handle);
    const wire::Proposal answer = chosen->as_proposal(our_spi);
    auto msg = build_protected(s, wire::ExchangeType::create_child_sa, true, m.header.message_id,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_sa(std::span<const wire::Proposal>(&answer, 1));
                                 w.add_nonce(n->nr);
                                 w.add_ke({(*ke)->group(), (*ke)->public_value()});
                               });
    if (!msg) return;
    respond(s, m.header.message_id, std::move(*msg), out);
    const Bytes nr = n->nr;
    Session& fresh = inherit(std::move(n), s, now);
    export_keys(fresh, out);
    for (Request& r : s.requests) {
      if (r.task.kind != TaskKind::rekey_ike) continue;
      // 2.8.2: both sides rekeyed the IKE SA: our exchange's outcome decides.
      r.collided = true;
      r.peer_ni.assign(a.nonce->begin(), a.nonce->end());
      r.our_nr = nr;
      r.peer_ike = fresh.handle;
      return;
    }
    adopt(fresh, s, now, out);
  }

  void on_peer_request(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    switch (m.header.exchange) {
      case wire::ExchangeType::informational: return on_informational_request(s, now, m, out);
      case wire::ExchangeType::create_child_sa:
        on_create_child_request(s, now, m, out);
        if (sessions.count(s.handle) != 0) pump(s, now, out);
        return;
      default: return answer_error(s, m, NotifyType::invalid_syntax, out);
    }
  }

  // ---- dispatch ----------------------------------------------------------

  void receive(Timestamp now, const Path& path, MutableByteView datagram, Sink& out) {
    ++stats.received;
    MutableByteView message = datagram;
    if (path.local.port == kNattPort || path.remote.port == kNattPort) {
      // RFC 3948 2.2: IKE on port 4500 follows the non-ESP marker.
      if (datagram.size() < wire::kNonEspMarkerSize || load_be32(datagram.first<4>()) != 0) {
        ++stats.dropped;
        return;
      }
      message = datagram.subspan(wire::kNonEspMarkerSize);
    }
    wire::ParsedMessage m;
    if (const Status parsed = wire::parse_message(message, &m); !parsed.ok()) {
      if (parsed.code() == Errc::unsupported_critical_payload && m.header.initiator() &&
          !m.header.response() && m.header.exchange == wire::ExchangeType::ike_sa_init &&
          m.header.message_id == 0) {
        // RFC 7296 2.5: name the payload type we do not understand.
        const uint8_t type = m.unsupported_payload_type;
        answer_init_error(now, path, m, NotifyType::unsupported_critical_payload, ByteView(&type, 1), out);
        return;
      }
      ++stats.dropped;  // RFC 7296 2.21: unauthenticated garbage gets no answer
      return;
    }
    const wire::IkeHeader& h = m.header;
    if (h.initiator() && !h.response() && h.exchange == wire::ExchangeType::ike_sa_init) {
      on_init_request(now, path, message, m, out);
      return;
    }
    // The I flag names the IKE SA's original initiator (3.1): the other
    // side's SPI is ours.
    const uint64_t ours = h.initiator() ? h.spi_r : h.spi_i;
    auto it = sessions.find(ours);
    if (it == sessions.end()) {
      ++stats.dropped;
      return;
    }
    Session& s = *it->second;
    const bool spis_match = h.initiator() ? h.spi_i == s.spi_i : (s.spi_r == 0 || h.spi_r == s.spi_r);
    if (!spis_match || h.initiator() == s.initiator) {
      ++stats.dropped;
      return;
    }
    if (h.exchange == wire::ExchangeType::ike_sa_init) {
      if (h.response() && s.initiator)
        on_init_response(s, now, m, message, out);
      else
        ++stats.dropped;
      return;
    }
    const wire::PayloadView* protected_payload = m.protected_payload();
    if (!s.recv_keys || protected_payload == nullptr) {
      ++stats.dropped;
      return;
    }
    const bool fragment = protected_payload->type == PayloadType::skf;
    if (h.response()) {
      const Request* r = find_request(s, h.message_id);
      if (r == nullptr || r->exchange != h.exchange) {
        ++stats.dropped;
        return;
      }
    } else if (!accept_request(s, path, h, message, fragment, *protected_payload, out)) {
      return;
    }
    // The request's digest, taken before it is decrypted in place.
    const std::array<uint8_t, 32> digest_in = h.response() ? std::array<uint8_t, 32>{} : digest(message);
    std::optional<wire::ReassembledMessage> whole;
    if (fragment) {
      if (!config.fragmentation) {
        ++stats.dropped;
        return;
      }
      auto f = wire::open_fragment(*s.recv_keys, message, m);
      if (!f) {
        ++stats.dropped;  // 2.21.2 and RFC 7383 2.6: unauthenticated fragments are dropped
        return;
      }
      if (!s.reassembler) {
        // Before authentication the shared budget bounds what fragments
        // hold (report_up lifts it).
        s.reassembler = std::make_unique<wire::FragmentReassembler>(
            limits::kMaxPendingReassemblies, limits::kMaxReassembledSize,
            s.phase <= Phase::half_open ? &unestablished_reassembly : nullptr);
      }
      if (!h.response() && f->number == 1) s.first_fragment_digest = digest_in;
      auto done = s.reassembler->add(h, *f);
      if (!done || !*done) {
        if (!done) ++stats.dropped;
        return;  // more fragments to come
      }
      whole = std::move(**done);
      m.clear();
      m.header = h;
      m.decrypted = true;
      if (!wire::parse_payload_chain(whole->first, whole->chain.view(), 0, true, &m).ok()) {
        ++stats.dropped;
        return;
      }
      log(LogLevel::debug, &s, "reassembled a message of " + std::to_string(whole->chain.size()) + " octets");
    } else if (!wire::open_protected_message(*s.recv_keys, message, m).ok()) {
      ++stats.dropped;  // 2.21.2: a message that does not verify is dropped
      return;
    }
    log_message(&s, false, h, m.payloads(), true, path);
    s.last_heard = now;
    if (!same_path(path, s.path)) moved(s, path, out);
    if (h.response()) {
      auto r = take_request(s, h.message_id);
      rearm(s);
      if (h.exchange == wire::ExchangeType::ike_auth && s.phase == Phase::auth_sent) {
        on_auth_response(s, now, m, out);
        return;
      }
      if (s.phase == Phase::established || s.phase == Phase::rekeyed || s.phase == Phase::deleting)
        on_response(s, std::move(*r), now, m, out);
      return;
    }
    request_digest = fragment ? s.first_fragment_digest : digest_in;
    if (h.exchange == wire::ExchangeType::ike_auth) {
      if (s.phase == Phase::half_open && !s.initiator && h.message_id == 1)
        on_auth_request(s, now, m, out);
      else
        ++stats.dropped;
      return;
    }
    if (s.phase == Phase::established || s.phase == Phase::rekeyed || s.phase == Phase::deleting)
      on_peer_request(s, now, m, out);
    else
      ++stats.dropped;
  }

  // accept_request: window checks for a request of the peer (RFC 7296
  // 2.3). A retransmission of one we answered gets the cached answer, if
  // it is the very request answered (its bytes, or those of its fragment
  // 1, RFC 7383 2.6.1) and comes from where that one did: no forged
  // datagram makes us send anything, or anywhere else.
  [[nodiscard]] bool accept_request(Session& s, const Path& path, const wire::IkeHeader& h, ByteView message,
                                    bool fragment, const wire::PayloadView& protected_payload, Sink& out) {
    for (const CachedResponse& c : s.responses) {
      if (c.mid != h.message_id) continue;
      auto skf = fragment ? wire::decode_skf(protected_payload) : Result<wire::SkfHeader>(wire::SkfHeader{});
      if ((!fragment || (skf && skf->number == 1)) && same_path(path, s.path) &&
          ct_equal(digest(message), c.digest)) {
        ++stats.responses_resent;
        send_all(out, s.path, c.bytes);
      } else {
        ++stats.dropped;
      }
      return false;
    }
    const uint32_t window = std::max<uint32_t>(config.window_size, 1);
    if (h.message_id < s.peer_mid || h.message_id - s.peer_mid >= window) {
      ++stats.dropped;
      return false;
    }
    return true;
  }

  // moved: an authenticated message came from a new address or port. A
  // request is answered where it came from (2.11); with a NAT in the path
  // the peer's mapping changed (2.23): the IKE SA follows it and its child
  // SAs are rekeyed so that their encapsulation does too.
  void moved(Session& s, const Path& path, Sink& out) {
    const bool established = s.phase == Phase::established;
    const Path before = s.path;
    s.path = path;
    if (!established || !s.nat.nat_detected()) return;
    log(LogLevel::info, &s,
        "peer moved from " + std::string(before.remote.address.to_text().view()) + "[" +
            std::to_string(before.remote.port) + "] to " + std::string(path.remote.address.to_text().view()) +
            "[" + std::to_string(path.remote.port) + "]");
    count_address(before.remote.address, -1);
    count_address(path.remote.address, +1);
    IkeSaInfo info = info_of(s);
    Event e;
    e.kind = EventKind::peer_address_changed;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.ike = &info;
    out.on_event(e);
    for (const Child& c : s.children) {
      if (c.phase == ChildPhase::installed && !has_task(s, TaskKind::rekey_child, c.inbound_spi))
        s.tasks.push_back(Task{TaskKind::rekey_child, 0, c.inbound_spi});
    }
  }

  [[nodiscard]] static IkeSaInfo info_of(const Session& s) {
    IkeSaInfo info;
    info.spi_i = s.spi_i;
    info.spi_r = s.spi_r;
    info.initiator = s.initiator;
    info.proposal = s.suite_text;
    info.local_id = s.local_id_text;
    info.remote_id = s.remote_id_text;
    info.path = s.path;
    info.nat = s.nat;
    return info;
  }

  // ---- timers ------------------------------------------------------------

  void on_timer(Timestamp now, Sink& out) {
    std::vector<uint64_t> due;
    for (auto it = deadlines.begin(); it != deadlines.end() && it->first <= now; ++it)
      due.push_back(it->second);
    for (uint64_t handle : due) {
      auto it = sessions.find(handle);
      if (it != sessions.end()) tick(*it->second, now, out);
    }
  }

  // tick: everything due on one IKE SA.
  void tick(Session& s, Timestamp now, Sink& out) {
    if (s.phase == Phase::half_open && s.created + config.half_open_timeout <= now)
      return down(s, out, "half-open IKE SA timed out");
    for (Request& r : s.requests) {
      if (r.retransmit_at > now) continue;
      if (r.retransmits >= config.retransmit.tries) {
        // Our Delete went unanswered: the peer most likely acted on it and
        // lost its answer with the IKE SA; not a dead peer.
        if (r.task.kind == TaskKind::delete_ike)
          return down(s, out, "deleted (the peer did not answer our Delete)");
        const bool was_up = s.phase == Phase::established;
        const Connection* conn = s.conn;
        down(s, out,
             "peer not responding (giving up after " + std::to_string(r.retransmits) + " retransmissions)",
             Errc::limit_exceeded, true);
        if (was_up && conn->dpd_action == DpdAction::restart) (void)initiate(*conn, now, out);
        return;
      }
      ++r.retransmits;
      ++stats.retransmitted;
      const double factor = std::pow(config.retransmit.base, static_cast<double>(r.retransmits));
      r.retransmit_at = now + std::chrono::duration_cast<Duration>(config.retransmit.initial * factor);
      log(LogLevel::info, &s,
          "retransmit " + std::to_string(r.retransmits) + " of request " + std::to_string(r.mid));
      send_all(out, s.path, r.bytes);
    }
    if (s.phase == Phase::rekeyed && s.rekeyed_deadline && *s.rekeyed_deadline <= now) {
      // The peer did not delete the IKE SA a rekey replaced (or made
      // redundant): we do, once, without waiting for an answer: nothing
      // depends on it any more, and the peer may have forgotten it
      // already (2.25.2).
      auto msg = build_protected(s, wire::ExchangeType::informational, false, s.next_mid,
                                 [&](wire::PayloadChainWriter& w) {
                                   w.add_delete(wire::DeletePayload{wire::ProtocolId::ike, 0, 0, {}});
                                 });
      flush_log(s);
      if (msg) send_all(out, s.path, *msg);
      return down(s, out, "rekeyed");
    }
    if (s.phase == Phase::established) {
      std::vector<Task> expired;
      for (Child& c : s.children) {
        if (c.expire_at && *c.expire_at <= now) {
          // Hard lifetime: the SA goes now (RFC 4301 4.4.2.1); tell the peer.
          expired.push_back(
              Task{TaskKind::delete_child, 0, c.inbound_spi, c.protocol == esp::SecurityProtocol::ah});
          continue;
        }
        if (c.redundant_at && *c.redundant_at <= now) {
          c.redundant_at.reset();
          for (Child& successor : s.children) {
            if (successor.replaces == c.inbound_spi) install_pending(s, successor, out);
          }
          if (!has_task(s, TaskKind::delete_child, c.inbound_spi))
            s.tasks.push_back(Task{TaskKind::delete_child, 0, c.inbound_spi});
        }
        if (c.rekey_at && *c.rekey_at <= now) {
          c.rekey_at.reset();
          if (c.phase == ChildPhase::installed && !has_task(s, TaskKind::rekey_child, c.inbound_spi))
            s.tasks.push_back(Task{TaskKind::rekey_child, 0, c.inbound_spi});
        }
      }
      for (const Task& t : expired) {
        child_down(s, t.child_spi, out, "hard lifetime expired");
        s.tasks.push_back(t);
      }
      if (s.rekey_at && *s.rekey_at <= now) {
        s.rekey_at.reset();
        if (!has_task(s, TaskKind::rekey_ike)) s.tasks.push_back(Task{TaskKind::rekey_ike});
      }
      if (s.reauth_at && *s.reauth_at <= now) {
        s.reauth_at.reset();
        (void)reauthenticate(s, now, out);
      }
      const uint64_t handle = s.handle;
      pump(s, now, out);
      if (sessions.count(handle) == 0 || s.phase != Phase::established) return;
      // Dead peer detection once nothing else is going on (what pump()
      // started or dropped counts): as rearm() expects it.
      const Duration dpd = s.conn->dpd_delay;
      if (dpd > Duration{0} && s.requests.empty() && s.tasks.empty() && s.last_heard + dpd <= now)
        queue(s, Task{TaskKind::dpd}, now, out);
      return;
    }
    rearm(s);
  }

  [[nodiscard]] std::optional<Timestamp> next_timeout() const {
    if (deadlines.empty()) return std::nullopt;
    return deadlines.begin()->first;
  }

  // rearm: keep the session's one entry in `deadlines` (its earliest
  // timer) up to date; called wherever those change, so that next_timeout
  // and on_timer never scan all SAs.
  void rearm(Session& s) {
    std::optional<Timestamp> t;
    auto consider = [&](std::optional<Timestamp> x) {
      if (x && (!t || *x < *t)) t = x;
    };
    for (const Request& r : s.requests) consider(r.retransmit_at);
    if (s.phase == Phase::half_open) consider(s.created + config.half_open_timeout);
    if (s.phase == Phase::rekeyed) consider(s.rekeyed_deadline);
    if (s.phase == Phase::established) {
      for (const Child& c : s.children) {
        consider(c.rekey_at);
        consider(c.expire_at);
        consider(c.redundant_at);
      }
      consider(s.rekey_at);
      consider(s.reauth_at);
      if (s.conn->dpd_delay > Duration{0} && s.requests.empty() && s.tasks.empty())
        consider(s.last_heard + s.conn->dpd_delay);  // as tick() queues it
      consider(s.task_wake);                         // see pump()
    }
    if (s.armed == t) return;
    if (s.armed) deadlines.erase({*s.armed, s.handle});
    s.armed = t;
    if (t) deadlines.insert({*t, s.handle});
  }

  // ---- the host's requests -----------------------------------------------

  // acquire: a packet for `reqid` found no SA: its child SA is created on
  // the connection's IKE SA, or the IKE SA is initiated first.
  [[nodiscard]] Status acquire(uint32_t reqid, Timestamp now, Sink& out) {
    for (const Connection& c : config.connections) {
      for (size_t i = 0; i < c.children.size(); ++i) {
        if (c.children[i].reqid != reqid) continue;
        Session* up = nullptr;
        for (const auto& [handle, s] : sessions) {
          if (s->conn != &c || s->phase == Phase::deleting || s->phase == Phase::rekeyed) continue;
          if (s->phase != Phase::established) return Status::success();  // being set up
          up = s.get();
          bool have = std::any_of(s->children.begin(), s->children.end(),
                                  [&](const Child& ch) { return ch.config == i; });
          if (have || has_task(*s, TaskKind::create_child)) return Status::success();
        }
        if (up != nullptr) {
          queue(*up, Task{TaskKind::create_child, i}, now, out);
          return Status::success();
        }
        auto r = initiate(c, now, out);
        return r ? Status::success() : r.status();
      }
    }
    return Status(Errc::invalid_argument, 0, "reqid");
  }

  [[nodiscard]] Status close(uint64_t handle, Timestamp now, Sink& out) {
    auto it = sessions.find(handle);
    if (it == sessions.end()) return Status(Errc::invalid_argument, 0, "ike_sa");
    Session& s = *it->second;
    if (s.phase == Phase::deleting) return Status::success();
    if (s.phase != Phase::established && s.phase != Phase::rekeyed) {
      down(s, out, "closed");
      return Status::success();
    }
    // RFC 7296 1.4.1: the Delete goes now; what was out is abandoned.
    (void)start_delete_ike(s, now, out);
    return Status::success();
  }

  [[nodiscard]] Session* established(uint64_t handle) {
    auto it = sessions.find(handle);
    if (it == sessions.end() || it->second->phase != Phase::established) return nullptr;
    return it->second.get();
  }

  [[nodiscard]] Status create_child(uint64_t handle, size_t index, Timestamp now, Sink& out) {
    Session* s = established(handle);
    if (s == nullptr) return Status(Errc::invalid_argument, 0, "ike_sa");
    if (index >= s->conn->children.size()) return Status(Errc::invalid_argument, 0, "index");
    queue(*s, Task{TaskKind::create_child, index}, now, out);
    return Status::success();
  }

  [[nodiscard]] Status rekey_child(uint32_t spi, Timestamp now, Sink& out) {
    Session* s = owner_of(spi);
    if (s == nullptr || s->phase != Phase::established)
      return Status(Errc::invalid_argument, 0, "inbound_spi");
    Child* c = find_child(*s, spi);
    if (c->phase != ChildPhase::installed || has_task(*s, TaskKind::rekey_child, spi))
      return Status::success();
    queue(*s, Task{TaskKind::rekey_child, 0, spi}, now, out);
    return Status::success();
  }

  [[nodiscard]] Status close_child(uint32_t spi, Timestamp now, Sink& out) {
    Session* s = owner_of(spi);
    if (s == nullptr || s->phase != Phase::established)
      return Status(Errc::invalid_argument, 0, "inbound_spi");
    if (!has_task(*s, TaskKind::delete_child, spi)) queue(*s, Task{TaskKind::delete_child, 0, spi}, now, out);
    return Status::success();
  }

  [[nodiscard]] Status rekey_ike(uint64_t handle, Timestamp now, Sink& out) {
    Session* s = established(handle);
    if (s == nullptr) return Status(Errc::invalid_argument, 0, "ike_sa");
    if (!has_task(*s, TaskKind::rekey_ike)) queue(*s, Task{TaskKind::rekey_ike}, now, out);
    return Status::success();
  }

  [[nodiscard]] Status check_liveness(uint64_t handle, Timestamp now, Sink& out) {
    Session* s = established(handle);
    if (s == nullptr) return Status(Errc::invalid_argument, 0, "ike_sa");
    if (!has_task(*s, TaskKind::dpd)) queue(*s, Task{TaskKind::dpd}, now, out);
    return Status::success();
  }

  [[nodiscard]] Status reauthenticate(Session& s, Timestamp now, Sink& out) {
    if (s.reauth_started) return Status::success();
    auto fresh = initiate(*s.conn, now, out);
    if (!fresh) return fresh.status();
    s.reauth_started = true;
    s.rekey_at.reset();
    if (auto it = sessions.find(*fresh); it != sessions.end()) it->second->reauth_of = s.handle;
    log(LogLevel::info, &s, "reauthenticating with a new IKE SA " + hex(spi_bytes(*fresh)));
    return Status::success();
  }

  void on_sa_event(const sa::SaEvent& e, Timestamp now, Sink& out) {
    Session* s = nullptr;
    uint32_t spi = e.spi;
    if (e.direction == sa::Direction::inbound) {
      s = owner_of(e.spi);
    } else {
      for (auto& [handle, session] : sessions) {
        if (Child* c = find_child_by_outbound(*session, e.spi); c != nullptr && c->reqid == e.reqid) {
          s = session.get();
          spi = c->inbound_spi;
          break;
        }
      }
    }
    if (s == nullptr || s->phase != Phase::established) return;
    Child* c = find_child(*s, spi);
    if (c == nullptr) return;
    if (e.kind == sa::SaEventKind::rekey_needed) {
      if (c->phase == ChildPhase::installed && !has_task(*s, TaskKind::rekey_child, spi))
        queue(*s, Task{TaskKind::rekey_child, 0, spi}, now, out);
      return;
    }
    // expired: the SAD removed one direction; the child SA is over.
    const Task t{TaskKind::delete_child, 0, spi, c->protocol == esp::SecurityProtocol::ah};
    child_down(*s, spi, out, "lifetime expired");
    queue(*s, t, now, out);
  }
};

IkeEngine::IkeEngine(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
IkeEngine::~IkeEngine() = default;

Result<std::unique_ptr<IkeEngine>> IkeEngine::create(EngineConfig config, crypto::Provider& provider,
                                                     crypto::Rng& rng) {
  if (config.pad == nullptr) return Status(Errc::invalid_argument, 0, "pad");
  for (size_t i = 0; i < config.connections.size(); ++i) {
    const Connection& c = config.connections[i];
    const auto at = static_cast<uint32_t>(i);
    if (c.ike_proposals.empty()) return Status(Errc::invalid_argument, at, "connection.ike_proposals");
    if (c.ike_proposals.front().of_type(wire::TransformType::ke).empty())
      return Status(Errc::invalid_argument, at, "connection.ike_proposals");
    if (config.pad->find(c.peer) == nullptr) return Status(Errc::invalid_argument, at, "connection.peer");
    if (c.local_auth == LocalAuth::signature && config.credentials.private_key == nullptr)
      return Status(Errc::invalid_argument, at, "credentials.private_key");
    for (const ChildConfig& cc : c.children) {
      if (cc.proposals.empty() || cc.local_ts.empty() || cc.remote_ts.empty())
        return Status(Errc::invalid_argument, at, "connection.children");
    }
  }
  if (config.window_size == 0 || config.window_size > kMaxWindow)
    return Status(Errc::invalid_argument, 0, "window_size");
  if (config.nonce_size < limits::kMinNonceSize || config.nonce_size > limits::kMaxNonceSize)
    return Status(Errc::invalid_argument, 0, "nonce_size");
  auto impl = std::make_unique<Impl>(std::move(config), provider, rng);
  return std::unique_ptr<IkeEngine>(new IkeEngine(std::move(impl)));
}

Result<uint64_t> IkeEngine::initiate(std::string_view connection, Timestamp now, Sink& out) {
  for (const Connection& c : impl_->config.connections) {
    if (c.name == connection) return impl_->initiate(c, now, out);
  }
  return Status(Errc::invalid_argument, 0, "connection");
}

Status IkeEngine::acquire(uint32_t reqid, Timestamp now, Sink& out) {
  return impl_->acquire(reqid, now, out);
}

void IkeEngine::receive(Timestamp now, const Path& path, MutableByteView datagram, Sink& out) {
  impl_->receive(now, path, datagram, out);
}
void IkeEngine::on_timer(Timestamp now, Sink& out) { impl_->on_timer(now, out); }
std::optional<Timestamp> IkeEngine::next_timeout() const noexcept { return impl_->next_timeout(); }
Status IkeEngine::close(uint64_t ike_sa, Timestamp now, Sink& out) { return impl_->close(ike_sa, now, out); }
Status IkeEngine::create_child(uint64_t ike_sa, size_t index, Timestamp now, Sink& out) {
  return impl_->create_child(ike_sa, index, now, out);
}
Status IkeEngine::rekey_child(uint32_t inbound_spi, Timestamp now, Sink& out) {
  return impl_->rekey_child(inbound_spi, now, out);
}
Status IkeEngine::close_child(uint32_t inbound_spi, Timestamp now, Sink& out) {
  return impl_->close_child(inbound_spi, now, out);
}
Status IkeEngine::rekey_ike(uint64_t ike_sa, Timestamp now, Sink& out) {
  return impl_->rekey_ike(ike_sa, now, out);
}
Status IkeEngine::reauthenticate(uint64_t ike_sa, Timestamp now, Sink& out) {
  Session* s = impl_->established(ike_sa);
  if (s == nullptr) return Status(Errc::invalid_argument, 0, "ike_sa");
  return impl_->reauthenticate(*s, now, out);
}
Status IkeEngine::check_liveness(uint64_t ike_sa, Timestamp now, Sink& out) {
  return impl_->check_liveness(ike_sa, now, out);
}
void IkeEngine::on_sa_event(const sa::SaEvent& event, Timestamp now, Sink& out) {
  impl_->on_sa_event(event, now, out);
}
size_t IkeEngine::child_sa_count() const noexcept {
  size_t n = 0;
  for (const auto& [h, s] : impl_->sessions) n += s->children.size();
  return n;
}
size_t IkeEngine::ike_sa_count() const noexcept { return impl_->sessions.size(); }
size_t IkeEngine::established_count() const noexcept {
  size_t n = 0;
  for (const auto& [h, s] : impl_->sessions) n += s->phase == Phase::established ? size_t{1} : size_t{0};
  return n;
}
size_t IkeEngine::half_open_count() const noexcept { return impl_->half_open; }
const EngineStats& IkeEngine::stats() const noexcept { return impl_->stats; }

// ---- Identity --------------------------------------------------------------

Result<Identity> Identity::parse(std::string_view text) {
  auto with = [&](std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; };
  Identity id;
  std::string_view value = text;
  if (with("fqdn:")) {
    id.type = wire::IdType::fqdn;
    value = text.substr(5);
  } else if (with("email:")) {
    id.type = wire::IdType::rfc822_addr;
    value = text.substr(6);
  } else if (with("keyid:")) {
    auto b = sa::detail::parse_hex(text.substr(6), 6);
    if (!b) return b.status();
    id.type = wire::IdType::key_id;
    id.data.assign(b->view().begin(), b->view().end());
    return id;
  } else if (with("ip:")) {
    auto a = IpAddress::parse(text.substr(3));
    if (!a) return Status(Errc::parse_error, 3, "identity address");
    id.type = a->family() == IpFamily::v4 ? wire::IdType::ipv4_addr : wire::IdType::ipv6_addr;
    id.data.assign(a->bytes().begin(), a->bytes().end());
    return id;
  } else if (auto a = IpAddress::parse(text)) {
    id.type = a->family() == IpFamily::v4 ? wire::IdType::ipv4_addr : wire::IdType::ipv6_addr;
    id.data.assign(a->bytes().begin(), a->bytes().end());
    return id;
  } else {
    id.type = text.find('@') != std::string_view::npos ? wire::IdType::rfc822_addr : wire::IdType::fqdn;
  }
  if (value.empty()) return Status(Errc::parse_error, 0, "identity");
  if (value.size() > 255) return Status(Errc::invalid_length, 0, "identity");
  id.data.assign(value.begin(), value.end());
  return id;
}

}  // namespace ipsec::ike
