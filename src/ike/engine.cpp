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
constexpr size_t kCookieSecretSize = 32;
constexpr uint8_t kCookieVersion = 1;
// SIGNATURE_HASH_ALGORITHMS data (RFC 7427 4): SHA2-256, SHA2-384,
// SHA2-512, and Identity for EdDSA (RFC 8420), 16 bits each.
constexpr std::array<uint8_t, 8> kSignatureHashes = {0, 2, 0, 3, 0, 4, 0, 5};

enum class Phase : uint8_t {
  init_sent,    // initiator: IKE_SA_INIT request out
  auth_sent,    // initiator: IKE_AUTH request out
  half_open,    // responder: IKE_SA_INIT answered, waiting for IKE_AUTH
  established,  // IKE_AUTH done
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

struct ChildState {
  bool installed = false;
  esp::SecurityProtocol protocol = esp::SecurityProtocol::esp;
  uint32_t inbound_spi = 0;
  uint32_t outbound_spi = 0;
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
  std::string local_id_text, remote_id_text;
  wire::IdType peer_id_type{};  // the peer's authenticated ID (responder)
  Bytes peer_id;
  const sa::PadEntry* peer_entry = nullptr;

  // Our outstanding request (window size 1, RFC 7296 2.3).
  uint32_t next_mid = 0;
  bool awaiting = false;
  std::optional<Timestamp> armed;  // this session's entry in Impl::deadlines
  uint32_t outstanding_mid = 0;
  wire::ExchangeType outstanding_exchange = wire::ExchangeType::ike_sa_init;
  Datagrams outstanding;  // as sent
  Timestamp retransmit_at{};
  uint32_t retransmits = 0;

  // The peer's requests: the next ID expected and the last answer.
  uint32_t peer_mid = 0;
  bool has_response = false;
  Datagrams last_response;  // as sent
  // The request it answers (SHA-256 of the message, or of fragment 1):
  // only an identical retransmission gets the cached answer.
  std::array<uint8_t, 32> last_request_digest{};
  std::array<uint8_t, 32> first_fragment_digest{};  // of the request being reassembled

  uint32_t child_inbound_spi = 0;
  bool child_spi_reserved = false;  // allocated from the host's SpiAllocator, not installed
  ChildState child;
  // RFC 7383: the peer's fragmented messages being put back together;
  // allocated on the first fragment.
  std::unique_ptr<wire::FragmentReassembler> reassembler;
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

[[nodiscard]] std::string id_text(wire::IdType type, ByteView data) {
  switch (type) {
    case wire::IdType::fqdn:
    case wire::IdType::rfc822_addr: return std::string(data.begin(), data.end());
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

[[nodiscard]] std::string proposals_text(const wire::SaPayload& sa) {
  std::string s;
  for (const wire::ProposalView& p : sa.proposals) {
    if (!s.empty()) s += ", ";
    s += transforms_text(p.transforms);
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
      if (v < 16384 && !out->error) out->error = n->type;
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

  Impl(EngineConfig c, crypto::Provider& p, crypto::Rng& r) : config(std::move(c)), provider(p), rng(r) {
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
                   bool defer = false) {
    if (config.log == nullptr || config.log_level < LogLevel::info) return;
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
    log(LogLevel::info, s, text);
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

  void send_request(Session& s, wire::ExchangeType exchange, Datagrams message, Timestamp now, Sink& out) {
    s.outstanding = std::move(message);
    s.outstanding_mid = s.next_mid;
    s.outstanding_exchange = exchange;
    s.awaiting = true;
    s.retransmits = 0;
    s.retransmit_at = now + config.retransmit.initial;
    rearm(s);
    flush_log(s);
    send_all(out, s.path, s.outstanding);
  }

  void send_response(Session& s, Datagrams message, Sink& out) {
    s.last_response = std::move(message);
    s.has_response = true;
    flush_log(s);
    send_all(out, s.path, s.last_response);
  }

  void release_child_spi(Session& s) {
    if (s.child_spi_reserved && config.spi_allocator != nullptr)
      config.spi_allocator->release(s.child_inbound_spi);
    s.child_spi_reserved = false;
  }

  void destroy(uint64_t handle) {
    auto it = sessions.find(handle);
    if (it == sessions.end()) return;
    release_child_spi(*it->second);
    if (it->second->phase == Phase::half_open) --half_open;
    auto h = responder_by_spi_i.find(it->second->spi_i);
    if (h != responder_by_spi_i.end() && h->second == handle) responder_by_spi_i.erase(h);
    if (it->second->armed) deadlines.erase({*it->second->armed, handle});
    sessions.erase(it);
  }

  // down: report the IKE SA gone (and its child) and forget it.
  void down(Session& s, Sink& out, std::string_view why, Errc error = Errc::ok) {
    log(LogLevel::info, &s, "IKE SA down: " + std::string(why));
    child_down(s, out, "IKE SA down");
    emit(out, s, EventKind::ike_sa_down, why, error);
    destroy(s.handle);
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
    });
  }

  [[nodiscard]] Status start_init(Session& s, Timestamp now, Sink& out) {
    auto msg = build_init_request(s);
    if (!msg) return msg.status();
    s.init_request = *msg;
    log_own_message(s, s.init_request, s.path);
    s.next_mid = 0;
    send_request(s, wire::ExchangeType::ike_sa_init, Datagrams{s.init_request}, now, out);
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
    const uint64_t handle = s.handle;
    sessions.emplace(handle, std::move(session));
    return handle;
  }

  // derive_ike_keys: SKEYSEED and {SK_d | SK_ai | SK_ar | SK_ei | SK_er |
  // SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296 2.14).
  [[nodiscard]] Status derive_ike_keys(Session& s, ByteView shared) {
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
    auto seed = crypto::skeyseed(provider, s.suite.prf, s.ni, s.nr, shared);
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

  void answer_init_error(const Path& path, const wire::IkeHeader& req, NotifyType type, ByteView data,
                         Sink& out) {
    wire::IkeHeader h;
    h.spi_i = req.spi_i;
    h.spi_r = 0;
    h.exchange = wire::ExchangeType::ike_sa_init;
    h.flags = wire::ike_flag::kResponse;
    h.message_id = 0;
    auto msg = build_plain(h, [&](wire::PayloadChainWriter& w) { w.add_notify(type, data); });
    if (!msg) return;
    log(LogLevel::info, nullptr,
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
        send_all(out, s->second->path, s->second->last_response);
      } else {
        ++stats.dropped;
      }
      return;
    }
    log_message(nullptr, false, h, m.payloads(), false, path);
    const wire::PayloadView* sa_p = m.find(PayloadType::sa);
    const wire::PayloadView* ke_p = m.find(PayloadType::ke);
    const wire::PayloadView* nonce_p = m.find(PayloadType::nonce);
    if (sa_p == nullptr || ke_p == nullptr || nonce_p == nullptr) {
      answer_init_error(path, h, NotifyType::invalid_syntax, {}, out);
      return;
    }
    auto sa_v = wire::decode_sa(*sa_p);
    auto ke_v = wire::decode_ke(*ke_p);
    auto ni = wire::decode_nonce(*nonce_p);
    if (!sa_v || !ke_v || !ni) {
      answer_init_error(path, h, NotifyType::invalid_syntax, {}, out);
      return;
    }
    if (half_open >= config.max_half_open) {
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
        ++stats.cookies_sent;
        answer_init_error(path, h, NotifyType::cookie, expected, out);
        return;
      }
    }
    const Connection* conn = responder_connection(path);
    if (conn == nullptr) {
      log(LogLevel::info, nullptr,
          "no connection for " + std::string(path.remote.address.to_text().view()) + ": NO_PROPOSAL_CHOSEN");
      answer_init_error(path, h, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    auto chosen = select_proposal(conn->ike_proposals, *sa_v);
    if (!chosen) {
      const std::string why = mismatch_text(conn->ike_proposals, *sa_v);
      log(LogLevel::info, nullptr, "IKE " + why);
      Session tmp;
      tmp.conn = conn;
      emit(out, tmp, EventKind::proposal_mismatch, why, Errc::invalid_value);
      answer_init_error(path, h, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    const IkeSuite suite = suite_of(*chosen);
    if (ke_v->group != suite.group) {
      // RFC 7296 1.2: name the group we want; keep no state.
      std::array<uint8_t, 2> g{};
      store_be16(g, static_cast<uint16_t>(suite.group));
      ++stats.invalid_ke_sent;
      answer_init_error(path, h, NotifyType::invalid_ke_payload, g, out);
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
    auto ke = provider.make_key_exchange(suite.group, rng);
    if (!ke) {
      answer_init_error(path, h, NotifyType::no_proposal_chosen, {}, out);
      return;
    }
    s.ke = std::move(*ke);
    auto shared = s.ke->shared_secret(ke_v->data);
    if (!shared) {
      // RFC 6989: a bad public value fails the exchange.
      answer_init_error(path, h, NotifyType::invalid_syntax, {}, out);
      return;
    }
    if (!derive_ike_keys(s, shared->view()).ok()) {
      answer_init_error(path, h, NotifyType::no_proposal_chosen, {}, out);
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
    });
    if (!msg) return;
    s.init_response = *msg;
    s.ke.reset();  // the private value is not needed once SKEYSEED exists
    s.peer_mid = 1;
    log_own_message(s, s.init_response, path);
    send_response(s, Datagrams{s.init_response}, out);
    responder_by_spi_i[s.spi_i] = s.handle;
    ++half_open;
    sessions.emplace(s.handle, std::move(session));
    rearm(s);
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
    if (s.phase != Phase::init_sent || m.header.message_id != 0) {
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
    s.ke.reset();
    std::vector<ByteView> nat_src;
    ByteView nat_dst;
    read_init_notifies(s, m, &nat_src, &nat_dst);
    auto nat = evaluate_nat_detection(s.spi_i, s.spi_r, nat_src, nat_dst, s.path.remote, s.path.local);
    if (nat) s.nat = *nat;
    s.awaiting = false;
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

  void send_auth_request(Session& s, Timestamp now, Sink& out) {
    const Connection& c = *s.conn;
    const Bytes idi = id_body(c.local_id);
    wire::AuthMethod method{};
    auto auth = own_auth(s, idi, &method);
    if (!auth)
      return down(s, out, "cannot compute our AUTH: " + std::string(to_string(auth.status().code())),
                  auth.status().code());
    s.child_inbound_spi = new_child_spi(s);
    if (s.child_inbound_spi == 0) return down(s, out, "no SPI for the child SA", Errc::limit_exceeded);
    const auto spi = spi32_bytes(s.child_inbound_spi);
    std::vector<wire::Proposal> proposals;
    for (size_t i = 0; i < c.child.proposals.size(); ++i) {
      proposals.push_back(wire::Proposal{static_cast<uint8_t>(i + 1), c.child.proposals[i].protocol, spi,
                                         c.child.proposals[i].transforms});
    }
    const auto tsi = wire_of(c.child.local_ts);
    const auto tsr = wire_of(c.child.remote_ts);
    const Bytes certreq = certreq_data(c);
    // RFC 7296 2.4: INITIAL_CONTACT only when we hold no other IKE SA with
    // this peer (the peer would drop the others as stale).
    bool initial_contact = c.send_initial_contact;
    for (const auto& [handle, other] : sessions) {
      if (handle != s.handle && other->conn == s.conn &&
          (other->phase == Phase::established || other->phase == Phase::auth_sent)) {
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
      if (c.child.mode == esp::Mode::transport) w.add_notify(NotifyType::use_transport_mode);
      if (!c.child.tfc_padding) w.add_notify(NotifyType::esp_tfc_padding_not_supported);
      w.add_sa(proposals);
      w.add_ts(PayloadType::ts_i, tsi);
      w.add_ts(PayloadType::ts_r, tsr);
    });
    if (!msg) return down(s, out, "cannot build IKE_AUTH", msg.status().code());
    s.phase = Phase::auth_sent;
    send_request(s, wire::ExchangeType::ike_auth, std::move(*msg), now, out);
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

  // derive_child: KEYMAT = prf+(SK_d, Ni | Nr) (RFC 7296 2.17), initiator-
  // to-responder keys first, encryption before integrity in each.
  struct ChildKeys {
    SecretBytes keymat;
    size_t encr_size = 0;
    size_t integ_size = 0;
  };
  [[nodiscard]] Result<ChildKeys> derive_child(Session& s, crypto::EncrId encr, uint16_t key_bits,
                                               crypto::IntegId integ) {
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
    const ByteView parts[] = {s.ni, s.nr};
    IPSEC_TRY(crypto::prf_plus(**mac, parts, keymat->mutable_view()));
    k.keymat = std::move(*keymat);
    return k;
  }

  // install_child: emit the child SA (inbound first; `between` runs after
  // the inbound install, before the outbound one: the responder's answer
  // leaves there) and the up events.
  template <typename Between>
  void install_child(Session& s, const Selected& chosen, std::vector<TsRange> local,
                     std::vector<TsRange> remote, esp::Mode mode, bool peer_no_tfc, Sink& out,
                     Between between) {
    const auto encr_t = chosen.get(wire::TransformType::encr);
    const auto integ_t = chosen.get(wire::TransformType::integ);
    const auto esn_t = chosen.get(wire::TransformType::esn);
    ChildSa c;
    c.reqid = s.conn->child.reqid;
    c.protocol =
        chosen.protocol == wire::ProtocolId::ah ? esp::SecurityProtocol::ah : esp::SecurityProtocol::esp;
    c.mode = mode;
    c.inbound_spi = s.child_inbound_spi;
    c.outbound_spi = chosen.spi.size() == 4 ? load_be32(chosen.spi.first<4>()) : 0;
    c.encr = encr_t ? static_cast<crypto::EncrId>(encr_t->id) : crypto::EncrId::null;
    c.encr_key_bits = encr_t ? encr_t->key_length.value_or(0) : 0;
    c.integ = integ_t ? static_cast<crypto::IntegId>(integ_t->id) : crypto::IntegId::none;
    c.esn = esn_t && esn_t->id == 1;
    const bool has_encr = c.protocol == esp::SecurityProtocol::esp;
    auto keys = derive_child(s, has_encr ? c.encr : crypto::EncrId::null, c.encr_key_bits, c.integ);
    if (!keys) {
      between();
      release_child_spi(s);
      emit(out, s, EventKind::child_sa_failed, "child SA key derivation failed", keys.status().code());
      return;
    }
    const ByteView k = keys->keymat.view();
    const size_t half = keys->encr_size + keys->integ_size;
    const ByteView i_to_r = k.first(half), r_to_i = k.subspan(half, half);
    const ByteView in = s.initiator ? r_to_i : i_to_r;
    const ByteView outk = s.initiator ? i_to_r : r_to_i;
    c.inbound_encr_keymat = in.first(keys->encr_size);
    c.inbound_integ_key = in.subspan(keys->encr_size);
    c.outbound_encr_keymat = outk.first(keys->encr_size);
    c.outbound_integ_key = outk.subspan(keys->encr_size);
    const std::vector<sa::Selector> selectors = ike::selectors(local, remote);
    c.local_ts = local;
    c.remote_ts = remote;
    c.selectors = selectors;
    c.local_address = s.path.local.address;
    c.remote_address = s.path.remote.address;
    if (s.nat.udp_encapsulation())
      c.udp = esp::UdpEncapsulation{s.path.local.port, s.path.remote.port, false};
    c.lifetime = s.conn->child.lifetime;
    c.limits = s.conn->child.limits;
    c.peer_accepts_tfc = !peer_no_tfc;
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
    e.direction = sa::Direction::outbound;
    out.on_event(e);
    s.child = ChildState{true, c.protocol, c.inbound_spi, c.outbound_spi};
    s.child_spi_reserved = false;  // the host installed it
    log(LogLevel::info, &s,
        "CHILD_SA established with SPIs " + hex(spi32_bytes(c.inbound_spi)) + "_i " +
            hex(spi32_bytes(c.outbound_spi)) + "_o, " + proposal);
    e.kind = EventKind::child_sa_up;
    out.on_event(e);
  }

  void report_up(Session& s, Sink& out) {
    if (s.phase == Phase::half_open) --half_open;
    s.phase = Phase::established;
    rearm(s);
    ++stats.established;
    IkeSaInfo info;
    info.spi_i = s.spi_i;
    info.spi_r = s.spi_r;
    info.initiator = s.initiator;
    info.proposal = s.suite_text;
    info.local_id = s.local_id_text;
    info.remote_id = s.remote_id_text;
    info.path = s.path;
    info.nat = s.nat;
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

  // drop_stale: RFC 7296 2.4: INITIAL_CONTACT says the peer kept no state:
  // our other IKE SAs with that authenticated identity (and their child
  // SAs) are stale and go without a Delete.
  void drop_stale(const Session& fresh, const wire::IdPayload& id, Sink& out) {
    std::vector<uint64_t> stale;
    for (const auto& [handle, other] : sessions) {
      if (handle == fresh.handle || other->phase != Phase::established || other->initiator) continue;
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
      if (msg) send_response(s, std::move(*msg), out);
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
      if (msg) send_response(s, std::move(*msg), out);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    s.local_id_text = id_text(s.conn->local_id.type, s.conn->local_id.data);
    if (a.initial_contact) drop_stale(s, *a.id, out);
    const Bytes idr = id_body(s.conn->local_id);
    wire::AuthMethod method{};
    auto auth = own_auth(s, idr, &method);
    if (!auth) return down(s, out, "cannot compute our AUTH", auth.status().code());
    // The child SA (RFC 7296 1.2, 2.9): proposal, traffic selectors, mode.
    const ChildConfig& cc = s.conn->child;
    std::optional<NotifyType> child_error;
    std::string child_why;
    std::optional<Selected> chosen;
    std::vector<TsRange> tsi, tsr;
    if (!a.sa || !a.tsi || !a.tsr) {
      child_error = NotifyType::invalid_syntax;  // childless IKE_AUTH is RFC 6023, not negotiated here
      child_why = "IKE_AUTH without SA/TSi/TSr";
    } else {
      auto pick = select_proposal(cc.proposals, *a.sa);
      if (!pick) {
        child_error = NotifyType::no_proposal_chosen;
        child_why = "child SA " + mismatch_text(cc.proposals, *a.sa);
        emit(out, s, EventKind::proposal_mismatch, child_why, Errc::invalid_value);
      } else {
        chosen = std::move(*pick);
        tsi = narrow(ranges_of(*a.tsi), cc.remote_ts);
        tsr = narrow(ranges_of(*a.tsr), cc.local_ts);
        bool authorized = !tsi.empty() && !tsr.empty();
        for (const sa::Selector& sel : selectors(tsr, tsi)) {
          authorized = authorized && sa::Pad::authorize_child(*s.peer_entry, sel);
        }
        if (!authorized) {
          child_error = NotifyType::ts_unacceptable;
          child_why = "traffic selectors unacceptable";
        }
      }
    }
    const esp::Mode mode =
        (a.transport && cc.mode == esp::Mode::transport) ? esp::Mode::transport : esp::Mode::tunnel;
    std::array<uint8_t, 4> our_spi{};
    if (!child_error) {
      s.child_inbound_spi = new_child_spi(s);
      if (s.child_inbound_spi == 0) {
        child_error = NotifyType::no_additional_sas;
        child_why = "no SPI for the child SA";
      }
      our_spi = spi32_bytes(s.child_inbound_spi);
    }
    const auto w_tsi = wire_of(tsi);
    const auto w_tsr = wire_of(tsr);
    wire::Proposal answer;
    if (chosen) answer = chosen->as_proposal(our_spi);
    auto msg = build_protected(s, wire::ExchangeType::ike_auth, true, m.header.message_id,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_raw(PayloadType::id_r, idr);
                                 if (s.conn->local_auth == LocalAuth::signature) {
                                   for (const crypto::Certificate& cert : config.credentials.local_chain)
                                     w.add_cert({wire::CertEncoding::x509_signature, cert.der()});
                                 }
                                 w.add_auth({method, *auth});
                                 if (child_error) {
                                   w.add_notify(*child_error);
                                   return;
                                 }
                                 if (mode == esp::Mode::transport)
                                   w.add_notify(NotifyType::use_transport_mode);
                                 if (!cc.tfc_padding) w.add_notify(NotifyType::esp_tfc_padding_not_supported);
                                 w.add_sa(std::span<const wire::Proposal>(&answer, 1));
                                 w.add_ts(PayloadType::ts_i, w_tsi);
                                 w.add_ts(PayloadType::ts_r, w_tsr);
                               });
    if (!msg) return down(s, out, "cannot build IKE_AUTH response", msg.status().code());
    s.peer_mid = m.header.message_id + 1;
    if (child_error) {
      send_response(s, std::move(*msg), out);
      report_up(s, out);
      log(LogLevel::info, &s, "child SA refused: " + child_why);
      release_child_spi(s);
      emit(out, s, EventKind::child_sa_failed, child_why, Errc::invalid_value);
      return;
    }
    Datagrams response = std::move(*msg);
    install_child(s, *chosen, tsr, tsi, mode, a.no_tfc, out, [&] {
      send_response(s, std::move(response), out);
      report_up(s, out);
    });
  }

  void on_auth_response(Session& s, Timestamp now, const wire::ParsedMessage& m, Sink& out) {
    AuthPayloads a;
    if (!collect_auth(m, PayloadType::id_r, &a).ok())
      return down(s, out, "malformed IKE_AUTH response", Errc::invalid_value);
    s.awaiting = false;
    rearm(s);
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
      s.next_mid = 2;
      auto msg = build_protected(
          s, wire::ExchangeType::informational, false, 2,
          [&](wire::PayloadChainWriter& w) { w.add_notify(NotifyType::authentication_failed); });
      flush_log(s);
      if (msg) send_all(out, s.path, *msg);
      return down(s, out, why, Errc::integrity_check_failed);
    }
    s.next_mid = 2;
    report_up(s, out);
    // The child SA.
    const ChildConfig& cc = s.conn->child;
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
    const esp::Mode mode =
        (a.transport && cc.mode == esp::Mode::transport) ? esp::Mode::transport : esp::Mode::tunnel;
    install_child(s, *chosen, tsi, tsr, mode, a.no_tfc, out, [] {});
  }

  // ---- established IKE SA: the peer's requests ---------------------------

  void on_informational_request(Session& s, const wire::ParsedMessage& m, Sink& out) {
    bool delete_ike = false;
    std::vector<uint8_t> our_spis;
    for (const wire::PayloadView& p : m.payloads()) {
      if (!p.encrypted || p.type != PayloadType::del) continue;
      auto d = wire::decode_delete(p);
      if (!d) continue;
      if (d->protocol == wire::ProtocolId::ike) delete_ike = true;
      for (size_t i = 0; i < d->spi_count && d->spi_size == 4; ++i) {
        if (s.child.installed && d->spi32(i) == s.child.outbound_spi) {
          const auto b = spi32_bytes(s.child.inbound_spi);
          our_spis.insert(our_spis.end(), b.begin(), b.end());
        }
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
    s.peer_mid = mid + 1;
    if (msg) send_response(s, std::move(*msg), out);
    if (delete_ike) return down(s, out, "deleted by the peer");
    if (!our_spis.empty()) {
      child_down(s, out, "child SA deleted by the peer");
    }
  }

  void child_down(Session& s, Sink& out, std::string_view why) {
    if (!s.child.installed) return;
    ChildSa c;
    c.reqid = s.conn->child.reqid;
    c.protocol = s.child.protocol;
    c.inbound_spi = s.child.inbound_spi;
    c.outbound_spi = s.child.outbound_spi;
    s.child.installed = false;
    Event e;
    e.kind = EventKind::child_sa_delete;
    e.ike_sa = s.handle;
    e.connection = s.conn->name;
    e.child = &c;
    e.detail = why;
    out.on_event(e);
  }

  void on_peer_request(Session& s, const wire::ParsedMessage& m, Sink& out) {
    switch (m.header.exchange) {
      case wire::ExchangeType::informational: return on_informational_request(s, m, out);
      default: {
        // CREATE_CHILD_SA and others: not supported on this IKE SA yet.
        auto msg = build_protected(
            s, m.header.exchange, true, m.header.message_id,
            [&](wire::PayloadChainWriter& w) { w.add_notify(NotifyType::no_additional_sas); });
        s.peer_mid = m.header.message_id + 1;
        if (msg) send_response(s, std::move(*msg), out);
      }
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
        answer_init_error(path, m.header, NotifyType::unsupported_critical_payload, ByteView(&type, 1), out);
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
    const uint64_t ours = h.initiator() ? h.spi_r : h.spi_i;
    auto it = sessions.find(ours);
    if (it == sessions.end()) {
      ++stats.dropped;
      return;
    }
    Session& s = *it->second;
    const bool spis_match = h.initiator() ? h.spi_i == s.spi_i : (s.spi_r == 0 || h.spi_r == s.spi_r);
    if (!spis_match || h.initiator() == s.initiator) {  // the I flag names the original initiator (3.1)
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
      if (!s.awaiting || h.message_id != s.outstanding_mid || h.exchange != s.outstanding_exchange) {
        ++stats.dropped;
        return;
      }
    } else {
      if (h.message_id + 1 == s.peer_mid && s.has_response) {
        // A retransmitted request gets the cached answer (RFC 7296 2.1),
        // if it is the very request answered (its bytes, or those of its
        // fragment 1, RFC 7383 2.6.1) and comes from where that one did:
        // no forged datagram makes us send anything, or anywhere else.
        auto skf =
            fragment ? wire::decode_skf(*protected_payload) : Result<wire::SkfHeader>(wire::SkfHeader{});
        if ((!fragment || (skf && skf->number == 1)) && same_path(path, s.path) &&
            ct_equal(digest(message), s.last_request_digest)) {
          ++stats.responses_resent;
          send_all(out, s.path, s.last_response);
        } else {
          ++stats.dropped;
        }
        return;
      }
      if (h.message_id != s.peer_mid) {
        ++stats.dropped;
        return;
      }
    }
    // The request's digest, taken before it is decrypted in place.
    const std::array<uint8_t, 32> request_digest = h.response() ? std::array<uint8_t, 32>{} : digest(message);
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
      if (!s.reassembler) s.reassembler = std::make_unique<wire::FragmentReassembler>();
      if (!h.response() && f->number == 1) s.first_fragment_digest = request_digest;
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
    if (!h.response()) s.last_request_digest = fragment ? s.first_fragment_digest : request_digest;
    if (!h.response() && !same_path(path, s.path)) {
      // RFC 7296 2.11, 2.23: answer where the request came from; an
      // initiator behind a NAT moves to port 4500 after IKE_SA_INIT, and
      // its mapping may change later.
      s.path = path;
    }
    if (h.response()) {
      s.awaiting = false;
      rearm(s);
      if (h.exchange == wire::ExchangeType::ike_auth && s.phase == Phase::auth_sent) {
        on_auth_response(s, now, m, out);
      } else if (s.phase == Phase::deleting) {
        down(s, out, "deleted");
      }
      return;
    }
    if (h.exchange == wire::ExchangeType::ike_auth) {
      if (s.phase == Phase::half_open && !s.initiator)
        on_auth_request(s, now, m, out);
      else
        ++stats.dropped;
      return;
    }
    if (s.phase == Phase::established || s.phase == Phase::deleting)
      on_peer_request(s, m, out);
    else
      ++stats.dropped;
  }

  void on_timer(Timestamp now, Sink& out) {
    std::vector<uint64_t> due;
    for (auto it = deadlines.begin(); it != deadlines.end() && it->first <= now; ++it)
      due.push_back(it->second);
    for (uint64_t handle : due) {
      auto it = sessions.find(handle);
      if (it == sessions.end()) continue;
      Session& s = *it->second;
      if (s.phase == Phase::half_open && s.created + config.half_open_timeout <= now) {
        down(s, out, "half-open IKE SA timed out");
        continue;
      }
      if (s.retransmits >= config.retransmit.tries) {
        down(s, out,
             "peer not responding (giving up after " + std::to_string(s.retransmits) + " retransmissions)",
             Errc::limit_exceeded);
        continue;
      }
      if (!s.awaiting || s.retransmit_at > now) continue;
      ++s.retransmits;
      ++stats.retransmitted;
      const double factor = std::pow(config.retransmit.base, static_cast<double>(s.retransmits));
      const auto wait = std::chrono::duration_cast<Duration>(config.retransmit.initial * factor);
      s.retransmit_at = now + wait;
      log(LogLevel::info, &s,
          "retransmit " + std::to_string(s.retransmits) + " of request " + std::to_string(s.outstanding_mid));
      rearm(s);
      send_all(out, s.path, s.outstanding);
    }
  }

  [[nodiscard]] std::optional<Timestamp> next_timeout() const {
    if (deadlines.empty()) return std::nullopt;
    return deadlines.begin()->first;
  }

  // rearm: keep the session's one entry in `deadlines` (its retransmission
  // or half-open expiry, whichever comes first) up to date; called wherever
  // those change, so that next_timeout and on_timer never scan all SAs.
  void rearm(Session& s) {
    std::optional<Timestamp> t;
    if (s.awaiting) t = s.retransmit_at;
    if (s.phase == Phase::half_open) {
      const Timestamp expiry = s.created + config.half_open_timeout;
      if (!t || expiry < *t) t = expiry;
    }
    if (s.armed == t) return;
    if (s.armed) deadlines.erase({*s.armed, s.handle});
    s.armed = t;
    if (t) deadlines.insert({*t, s.handle});
  }

  [[nodiscard]] Status close(uint64_t handle, Timestamp now, Sink& out) {
    auto it = sessions.find(handle);
    if (it == sessions.end()) return Status(Errc::invalid_argument, 0, "ike_sa");
    Session& s = *it->second;
    if (s.phase != Phase::established || s.awaiting) {
      down(s, out, "closed");
      return Status::success();
    }
    auto msg = build_protected(s, wire::ExchangeType::informational, false, s.next_mid,
                               [&](wire::PayloadChainWriter& w) {
                                 w.add_delete(wire::DeletePayload{wire::ProtocolId::ike, 0, 0, {}});
                               });
    if (!msg) {
      down(s, out, "closed");
      return Status::success();
    }
    child_down(s, out, "closing");
    s.phase = Phase::deleting;
    send_request(s, wire::ExchangeType::informational, std::move(*msg), now, out);
    ++s.next_mid;
    return Status::success();
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
    if (c.child.proposals.empty() || c.child.local_ts.empty() || c.child.remote_ts.empty())
      return Status(Errc::invalid_argument, at, "connection.child");
  }
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
  for (const Connection& c : impl_->config.connections) {
    if (c.child.reqid != reqid) continue;
    for (const auto& [handle, s] : impl_->sessions) {
      if (s->conn == &c && s->phase != Phase::deleting) return Status::success();
    }
    auto r = impl_->initiate(c, now, out);
    return r ? Status::success() : r.status();
  }
  return Status(Errc::invalid_argument, 0, "reqid");
}

void IkeEngine::receive(Timestamp now, const Path& path, MutableByteView datagram, Sink& out) {
  impl_->receive(now, path, datagram, out);
}
void IkeEngine::on_timer(Timestamp now, Sink& out) { impl_->on_timer(now, out); }
std::optional<Timestamp> IkeEngine::next_timeout() const noexcept { return impl_->next_timeout(); }
Status IkeEngine::close(uint64_t ike_sa, Timestamp now, Sink& out) { return impl_->close(ike_sa, now, out); }
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
