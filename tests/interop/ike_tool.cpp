// SPDX-License-Identifier: Apache-2.0
// ike_tool: IKEv2 messages built with the public codec API (MessageBuilder,
// ChainBuilder, build_protected_message, Fragmenter), so that an independent
// dissector can check them (tests/interop/ike_tshark.py runs tshark on them).
//
//   ike_tool --cert CERT.der
//                     prints one line per message: "NAME HEX"
//                     and, for every SK/SKF-protected message, the line
//                     "keys NAME SPIi SPIr ENCR KEYBITS INTEG SK_ei SK_er SK_ai SK_ar"
//                     (SPIs as 16 hex digits, IANA transform IDs in
//                     decimal, keys in hex, "-" for an empty key): what
//                     tshark's ikev2_decryption_table needs.
//
// Every value put into a message is fixed here (the script expects exactly
// these); only the IVs come from a SeededRng, so the output is the same on
// every run. Before printing, each message goes back through parse_message
// (and the protected ones through open_protected_message / open_fragment
// with the receiver's keys) and its summary is written to stderr: a message
// our own parser refuses is an error (exit 1).
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_fragment.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "ipsec/wire/ike_summary.hpp"

namespace {

using Bytes = std::vector<uint8_t>;
using ipsec::ByteView;
using ipsec::MutableByteView;
using ipsec::crypto::EncrId;
using ipsec::crypto::IntegId;
using ipsec::crypto::KeGroup;
using ipsec::crypto::PrfId;
namespace wire = ipsec::wire;
using wire::CfgAttribute;
using wire::ExchangeType;
using wire::NotifyType;
using wire::PayloadType;
using wire::ProtocolId;
using wire::TransformType;

// ---- fixed inputs (ike_tshark.py expects these values) -------------------------------------

constexpr uint64_t kSpiI = 0x1122334455667788u;  // the unprotected messages
constexpr uint64_t kSpiR = 0x99aabbccddeeff00u;
constexpr uint64_t kCbcSpiI = 0x0c0c0c0c00000001u;  // the AES-CBC + HMAC IKE SA
constexpr uint64_t kCbcSpiR = 0x0c0c0c0c00000002u;
constexpr uint64_t kGcmSpiI = 0x0d0d0d0d00000001u;  // the AES-GCM IKE SA
constexpr uint64_t kGcmSpiR = 0x0d0d0d0d00000002u;
constexpr uint32_t kEspSpi = 0xc0ffee01u;  // the Child SA proposed in IKE_AUTH
constexpr uint32_t kRekeyOldSpi = 0xc0ffee01u;
constexpr uint32_t kRekeyNewSpi = 0xc0ffee02u;
constexpr uint32_t kDeleteSpi1 = 0xdead0001u;
constexpr uint32_t kDeleteSpi2 = 0xdead0002u;

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 7 * i);
  return b;
}
Bytes be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}
Bytes text(const char* s) { return Bytes(s, s + std::char_traits<char>::length(s)); }

// The payload contents, built once; messages hold views into them.
struct Contents {
  Bytes ke_i = pattern(32, 0x31);  // curve25519 public values
  Bytes ke_r = pattern(32, 0x32);
  Bytes nonce_i = pattern(32, 0x41);
  Bytes nonce_r = pattern(32, 0x42);
  Bytes natd_src = pattern(20, 0x51);
  Bytes natd_dst = pattern(20, 0x52);
  Bytes sig_hash_algs = {0, 2, 0, 3, 0, 4, 0, 5};  // SHA2-256, SHA2-384, SHA2-512, Identity (RFC 7427)
  Bytes vendor_id = text("ipsec ike_tool");
  Bytes certreq_hashes = pattern(40, 0x61);  // two SHA-1 key hashes
  Bytes cookie = pattern(32, 0x71);
  Bytes id_fqdn = text("client.example.com");
  Bytes id_ipv4 = {192, 0, 2, 10};
  // CERT: an X.509 certificate read from the file named on the command line
  // (tshark dissects it as one, so stand-in bytes would be malformed).
  Bytes cert;
  // AUTH method 14 (RFC 7427 3): length | AlgorithmIdentifier | signature.
  Bytes auth_sig = [] {
    const Bytes ai = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    Bytes a = {static_cast<uint8_t>(ai.size())};
    a.insert(a.end(), ai.begin(), ai.end());
    const Bytes sig = pattern(64, 0x91);
    a.insert(a.end(), sig.begin(), sig.end());
    return a;
  }();
  Bytes auth_psk = pattern(32, 0xa1);  // prf(prf(psk, pad), ...) is 32 octets with PRF_HMAC_SHA2_256
  Bytes esp_spi = be32(kEspSpi);
  Bytes rekey_old_spi = be32(kRekeyOldSpi);
  Bytes rekey_new_spi = be32(kRekeyNewSpi);
  Bytes delete_spis = [] {
    Bytes s = be32(kDeleteSpi1);
    const Bytes b = be32(kDeleteSpi2);
    s.insert(s.end(), b.begin(), b.end());
    return s;
  }();
  // EAP-Response/Identity (RFC 3748 5.1): code 2, identifier 0, length, type 1.
  Bytes eap = [] {
    const Bytes identity = text("user@example.com");
    Bytes e = {2, 0, 0, static_cast<uint8_t>(5 + identity.size()), 1};
    e.insert(e.end(), identity.begin(), identity.end());
    return e;
  }();
  // Traffic selectors: TSi 10.1.0.0-10.1.255.255 any protocol, all ports, and
  // 2001:db8:1::/64; TSr 10.2.0.0-10.2.0.255 TCP 443, and 2001:db8:2::/64 UDP 500-4500.
  Bytes v4i_start = {10, 1, 0, 0}, v4i_end = {10, 1, 255, 255};
  Bytes v4r_start = {10, 2, 0, 0}, v4r_end = {10, 2, 0, 255};
  Bytes v6i_start = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes v6i_end = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Bytes v6r_start = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes v6r_end = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

  // IKE SA proposals: 1 = AES-GCM-16/256, PRF HMAC-SHA2-256, curve25519;
  // 2 = AES-CBC/256, HMAC-SHA2-256-128, PRF HMAC-SHA2-256, curve25519.
  std::array<wire::Transform, 3> ike_gcm = {{
      {TransformType::encr, static_cast<uint16_t>(EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::prf, static_cast<uint16_t>(PrfId::hmac_sha2_256), std::nullopt, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(KeGroup::curve25519), std::nullopt, {}, 0},
  }};
  std::array<wire::Transform, 4> ike_cbc = {{
      {TransformType::encr, static_cast<uint16_t>(EncrId::aes_cbc), 256, {}, 0},
      {TransformType::integ, static_cast<uint16_t>(IntegId::hmac_sha2_256_128), std::nullopt, {}, 0},
      {TransformType::prf, static_cast<uint16_t>(PrfId::hmac_sha2_256), std::nullopt, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(KeGroup::curve25519), std::nullopt, {}, 0},
  }};
  // ESP: AES-GCM-16/256 with both ESN choices.
  std::array<wire::Transform, 3> esp_gcm = {{
      {TransformType::encr, static_cast<uint16_t>(EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::esn, static_cast<uint16_t>(wire::EsnId::no_esn), std::nullopt, {}, 0},
      {TransformType::esn, static_cast<uint16_t>(wire::EsnId::esn), std::nullopt, {}, 0},
  }};
  // ESP for CREATE_CHILD_SA: the same plus a KE transform (PFS).
  std::array<wire::Transform, 4> esp_gcm_pfs = {{
      {TransformType::encr, static_cast<uint16_t>(EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(KeGroup::curve25519), std::nullopt, {}, 0},
      {TransformType::esn, static_cast<uint16_t>(wire::EsnId::no_esn), std::nullopt, {}, 0},
      {TransformType::esn, static_cast<uint16_t>(wire::EsnId::esn), std::nullopt, {}, 0},
  }};

  std::array<wire::Proposal, 2> ike_proposals() const {
    return {{{1, ProtocolId::ike, {}, ike_gcm}, {2, ProtocolId::ike, {}, ike_cbc}}};
  }
  std::array<wire::Proposal, 1> ike_chosen() const { return {{{1, ProtocolId::ike, {}, ike_gcm}}}; }
  std::array<wire::Proposal, 1> esp_proposal() const { return {{{1, ProtocolId::esp, esp_spi, esp_gcm}}}; }
  std::array<wire::Proposal, 1> rekey_proposal() const {
    return {{{1, ProtocolId::esp, rekey_new_spi, esp_gcm_pfs}}};
  }
  std::array<wire::TrafficSelector, 2> ts_i() const {
    return {{{wire::TsType::ipv4_addr_range, 0, 0, 65535, v4i_start, v4i_end, {}},
             {wire::TsType::ipv6_addr_range, 0, 0, 65535, v6i_start, v6i_end, {}}}};
  }
  std::array<wire::TrafficSelector, 2> ts_r() const {
    return {{{wire::TsType::ipv4_addr_range, 6, 443, 443, v4r_start, v4r_end, {}},
             {wire::TsType::ipv6_addr_range, 17, 500, 4500, v6r_start, v6r_end, {}}}};
  }
  std::array<wire::ConfigAttribute, 3> cp_request() const {
    return {{{CfgAttribute::internal_ip4_address, {}},
             {CfgAttribute::internal_ip4_dns, {}},
             {CfgAttribute::internal_ip6_address, {}}}};
  }
};

wire::IkeHeader header(uint64_t spi_i, uint64_t spi_r, ExchangeType exchange, uint8_t flags, uint32_t id) {
  wire::IkeHeader h;
  h.spi_i = spi_i;
  h.spi_r = spi_r;
  h.exchange = exchange;
  h.flags = flags;
  h.message_id = id;
  return h;
}

constexpr uint8_t kInitiatorRequest = wire::ike_flag::kInitiator;
constexpr uint8_t kResponderResponse = wire::ike_flag::kResponse;

// The IKE_AUTH request's payloads (RFC 7296 1.2, 2.19):
// IDi, CERT, N(INITIAL_CONTACT), IDr, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr.
// With psk: no CERT, AUTH method 2.
void add_auth_request(wire::PayloadChainWriter& p, const Contents& c, bool psk) {
  p.add_id(PayloadType::id_i, {wire::IdType::fqdn, c.id_fqdn});
  if (!psk) p.add_cert({wire::CertEncoding::x509_signature, c.cert});
  p.add_notify(NotifyType::initial_contact);
  p.add_id(PayloadType::id_r, {wire::IdType::ipv4_addr, c.id_ipv4});
  if (psk) {
    p.add_auth({wire::AuthMethod::shared_key_mic, c.auth_psk});
  } else {
    p.add_auth({wire::AuthMethod::digital_signature, c.auth_sig});
  }
  const auto attributes = c.cp_request();
  p.add_cp(wire::CfgType::request, attributes);
  const auto sa = c.esp_proposal();
  p.add_sa(sa);
  const auto tsi = c.ts_i();
  const auto tsr = c.ts_r();
  p.add_ts(PayloadType::ts_i, tsi);
  p.add_ts(PayloadType::ts_r, tsr);
}

// The IKE_AUTH response: IDr, AUTH (PSK), SA, TSi, TSr.
void add_auth_response(wire::PayloadChainWriter& p, const Contents& c) {
  p.add_id(PayloadType::id_r, {wire::IdType::ipv4_addr, c.id_ipv4});
  p.add_auth({wire::AuthMethod::shared_key_mic, c.auth_psk});
  const auto sa = c.esp_proposal();
  p.add_sa(sa);
  const auto tsi = c.ts_i();
  const auto tsr = c.ts_r();
  p.add_ts(PayloadType::ts_i, tsi);
  p.add_ts(PayloadType::ts_r, tsr);
}

// ---- keys -----------------------------------------------------------------------------------

struct SaKeys {
  uint64_t spi_i, spi_r;
  EncrId encr;
  uint16_t key_bits;
  IntegId integ;
  Bytes sk_ei, sk_er, sk_ai, sk_ar;
};

SaKeys cbc_keys() {
  SaKeys k{kCbcSpiI, kCbcSpiR, EncrId::aes_cbc, 256, IntegId::hmac_sha2_256_128, {}, {}, {}, {}};
  k.sk_ei = pattern(32, 0x11);
  k.sk_er = pattern(32, 0x12);
  k.sk_ai = pattern(32, 0x13);
  k.sk_ar = pattern(32, 0x14);
  return k;
}
SaKeys gcm_keys() {
  SaKeys k{kGcmSpiI, kGcmSpiR, EncrId::aes_gcm_16, 256, IntegId::none, {}, {}, {}, {}};
  k.sk_ei = pattern(36, 0x21);  // key | 4-octet salt (RFC 5282 7.1)
  k.sk_er = pattern(36, 0x22);
  return k;
}

void print_hex(ByteView b) {
  if (b.empty()) std::fputc('-', stdout);
  for (uint8_t x : b) std::printf("%02x", x);
}

void print_status(const char* what, const ipsec::Status& s) {
  const std::string_view name = s.name();
  std::fprintf(stderr, "ike_tool: %s: %.*s", what, static_cast<int>(name.size()), name.data());
  if (s.has_offset()) std::fprintf(stderr, " at offset %u", s.offset());
  if (*s.field()) std::fprintf(stderr, " (%s)", s.field());
  std::fputc('\n', stderr);
}

class Tool {
 public:
  Tool() : rng_(uint64_t{0x1d3e5eed}) {}

  [[nodiscard]] bool ok() const { return ok_; }

  // emit: print an unprotected message after our parser accepted it.
  void emit(const char* name, ipsec::Result<ByteView> msg) {
    if (!msg) return fail(name, msg.status());
    wire::ParsedMessage parsed;
    const ipsec::Status s = wire::parse_message(*msg, &parsed);
    if (!s.ok()) return fail(name, s);
    print(name, *msg, parsed, nullptr);
  }

  // emit_protected: print an SK or SKF message after the receiver's keys
  // opened it (fragments: the reassembled chain parsed).
  void emit_protected(const char* name, ipsec::Result<ByteView> msg, const SaKeys& k, bool from_initiator) {
    if (!msg) return fail(name, msg.status());
    Bytes copy(msg->begin(), msg->end());
    wire::ParsedMessage parsed;
    ipsec::Status s = wire::parse_message(copy, &parsed);
    if (!s.ok()) return fail(name, s);
    auto keys = keys_for(k, from_initiator);  // the receiver's copy of the sender's keys
    if (!keys) return fail(name, keys.status());
    if (parsed.protected_payload() != nullptr && parsed.protected_payload()->type == PayloadType::skf) {
      auto f = wire::open_fragment(*keys, copy, parsed);
      if (!f) return fail(name, f.status());
      auto done = reassembler_.add(parsed.header, *f);
      if (!done) return fail(name, done.status());
      if (*done) {
        wire::ParsedMessage inner;
        inner.header = parsed.header;
        s = wire::parse_payload_chain((*done)->first, (*done)->chain.view(), 0, true, &inner);
        if (!s.ok()) return fail(name, s);
        const auto summary = wire::summarize(inner);
        std::fprintf(stderr, "ike_tool: %s: reassembled: %.*s\n", name,
                     static_cast<int>(summary.view().size()), summary.view().data());
      }
    } else {
      s = wire::open_protected_message(*keys, copy, parsed);
      if (!s.ok()) return fail(name, s);
    }
    print(name, *msg, parsed, &k);
  }

  ipsec::crypto::SeededRng& rng() { return rng_; }
  ipsec::crypto::Provider& provider() { return provider_; }

  [[nodiscard]] ipsec::Result<wire::SkTransform> keys_for(const SaKeys& k, bool initiator_keys) {
    return wire::SkTransform::make(provider_, k.encr, k.key_bits, k.integ, initiator_keys ? k.sk_ei : k.sk_er,
                                   initiator_keys ? k.sk_ai : k.sk_ar);
  }

 private:
  void fail(const char* name, const ipsec::Status& s) {
    print_status(name, s);
    ok_ = false;
  }

  void print(const char* name, ByteView msg, const wire::ParsedMessage& parsed, const SaKeys* k) {
    const auto summary = wire::summarize(parsed);
    std::fprintf(stderr, "ike_tool: %s: %zu octets: %.*s\n", name, msg.size(),
                 static_cast<int>(summary.view().size()), summary.view().data());
    std::printf("%s ", name);
    print_hex(msg);
    std::fputc('\n', stdout);
    if (k != nullptr) {
      std::printf("keys %s %016llx %016llx %u %u %u ", name, static_cast<unsigned long long>(k->spi_i),
                  static_cast<unsigned long long>(k->spi_r), static_cast<unsigned>(k->encr), k->key_bits,
                  static_cast<unsigned>(k->integ));
      for (const Bytes* key : {&k->sk_ei, &k->sk_er, &k->sk_ai, &k->sk_ar}) {
        print_hex(*key);
        std::fputc(key == &k->sk_ar ? '\n' : ' ', stdout);
      }
    }
  }

  ipsec::crypto::DefaultProvider provider_;
  ipsec::crypto::SeededRng rng_;
  wire::FragmentReassembler reassembler_;
  bool ok_ = true;
};

bool read_file(const char* path, Bytes* out) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  std::array<uint8_t, 4096> chunk{};
  size_t n = 0;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), f)) > 0)
    out->insert(out->end(), chunk.data(), chunk.data() + n);
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Contents c;
  if (argc != 3 || std::string_view(argv[1]) != "--cert" || !read_file(argv[2], &c.cert) || c.cert.empty()) {
    std::fputs("usage: ike_tool --cert CERT.der   (an X.509 certificate, DER)\n", stderr);
    return 2;
  }
  Tool tool;
  std::array<uint8_t, 4096> buf{};

  // HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP),
  // N(IKEV2_FRAGMENTATION_SUPPORTED), N(SIGNATURE_HASH_ALGORITHMS), V -->
  {
    wire::MessageBuilder b(buf, header(kSpiI, 0, ExchangeType::ike_sa_init, kInitiatorRequest, 0));
    auto& p = b.payloads();
    const auto sa = c.ike_proposals();
    p.add_sa(sa);
    p.add_ke({KeGroup::curve25519, c.ke_i});
    p.add_nonce(c.nonce_i);
    p.add_notify(NotifyType::nat_detection_source_ip, c.natd_src);
    p.add_notify(NotifyType::nat_detection_destination_ip, c.natd_dst);
    p.add_notify(NotifyType::ikev2_fragmentation_supported);
    p.add_notify(NotifyType::signature_hash_algorithms, c.sig_hash_algs);
    p.add_vendor_id(c.vendor_id);
    tool.emit("sa_init_req", b.finish());
  }
  // <-- HDR, SAr1, KEr, Nr, CERTREQ, N(IKEV2_FRAGMENTATION_SUPPORTED)
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::ike_sa_init, kResponderResponse, 0));
    auto& p = b.payloads();
    const auto sa = c.ike_chosen();
    p.add_sa(sa);
    p.add_ke({KeGroup::curve25519, c.ke_r});
    p.add_nonce(c.nonce_r);
    p.add_certreq({wire::CertEncoding::x509_signature, c.certreq_hashes});
    p.add_notify(NotifyType::ikev2_fragmentation_supported);
    tool.emit("sa_init_resp", b.finish());
  }
  // <-- HDR(A,0), N(COOKIE)  (RFC 7296 2.6)
  {
    wire::MessageBuilder b(buf, header(kSpiI, 0, ExchangeType::ike_sa_init, kResponderResponse, 0));
    b.payloads().add_notify(NotifyType::cookie, c.cookie);
    tool.emit("sa_init_cookie", b.finish());
  }
  // HDR, IDi, CERT, N(INITIAL_CONTACT), IDr, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr -->
  // (in the clear here, so that tshark shows it without keys)
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::ike_auth, kInitiatorRequest, 1));
    add_auth_request(b.payloads(), c, false);
    tool.emit("auth_req", b.finish());
  }
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::ike_auth, kInitiatorRequest, 1));
    add_auth_request(b.payloads(), c, true);
    tool.emit("auth_req_psk", b.finish());
  }
  // HDR, SK {N(REKEY_SA), SA, Ni, KEi, TSi, TSr} -->  (RFC 7296 1.3.3, in the clear)
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::create_child_sa, kInitiatorRequest, 2));
    auto& p = b.payloads();
    p.add_notify({ProtocolId::esp, NotifyType::rekey_sa, c.rekey_old_spi, {}});
    const auto sa = c.rekey_proposal();
    p.add_sa(sa);
    p.add_nonce(c.nonce_i);
    p.add_ke({KeGroup::curve25519, c.ke_i});
    const auto tsi = c.ts_i();
    const auto tsr = c.ts_r();
    p.add_ts(PayloadType::ts_i, tsi);
    p.add_ts(PayloadType::ts_r, tsr);
    tool.emit("create_child_rekey", b.finish());
  }
  // HDR, SK {D(ESP, two SPIs)} -->  and  HDR, SK {D(IKE)} -->
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::informational, kInitiatorRequest, 3));
    b.payloads().add_delete({ProtocolId::esp, 4, 2, c.delete_spis});
    tool.emit("info_delete_esp", b.finish());
  }
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::informational, kInitiatorRequest, 4));
    b.payloads().add_delete({ProtocolId::ike, 0, 0, {}});
    tool.emit("info_delete_ike", b.finish());
  }
  // HDR, SK {EAP} -->  (EAP-Response/Identity, RFC 7296 2.16)
  {
    wire::MessageBuilder b(buf, header(kSpiI, kSpiR, ExchangeType::ike_auth, kInitiatorRequest, 2));
    b.payloads().add_eap(c.eap);
    tool.emit("auth_eap", b.finish());
  }

  // The IKE_AUTH request protected: the plaintext chain, then SK.
  std::array<uint8_t, 2048> chain_buf{};
  wire::ChainBuilder chain(chain_buf);
  add_auth_request(chain.payloads(), c, false);
  auto plain = chain.finish();
  if (!plain) {
    print_status("chain", plain.status());
    return 1;
  }
  std::array<uint8_t, 2048> resp_buf{};
  wire::ChainBuilder resp_chain(resp_buf);
  add_auth_response(resp_chain.payloads(), c);
  auto resp_plain = resp_chain.finish();
  if (!resp_plain) {
    print_status("chain", resp_plain.status());
    return 1;
  }

  const SaKeys cbc = cbc_keys();
  const SaKeys gcm = gcm_keys();
  auto cbc_i = tool.keys_for(cbc, true);
  auto cbc_r = tool.keys_for(cbc, false);
  auto gcm_i = tool.keys_for(gcm, true);
  if (!cbc_i || !cbc_r || !gcm_i) {
    print_status("keys", !cbc_i ? cbc_i.status() : !cbc_r ? cbc_r.status() : gcm_i.status());
    return 1;
  }
  // HDR, SK {IDi, CERT, N(INITIAL_CONTACT), IDr, AUTH, CP, SAi2, TSi, TSr} -->
  tool.emit_protected("sk_cbc_auth_req",
                      wire::build_protected_message(
                          header(cbc.spi_i, cbc.spi_r, ExchangeType::ike_auth, kInitiatorRequest, 1),
                          chain.first_type(), *plain, *cbc_i, tool.rng(), buf),
                      cbc, true);
  // <-- HDR, SK {IDr, AUTH, SAr2, TSi, TSr}  (the responder's keys SK_er/SK_ar)
  tool.emit_protected("sk_cbc_auth_resp",
                      wire::build_protected_message(
                          header(cbc.spi_i, cbc.spi_r, ExchangeType::ike_auth, kResponderResponse, 1),
                          resp_chain.first_type(), *resp_plain, *cbc_r, tool.rng(), buf),
                      cbc, false);
  tool.emit_protected("sk_gcm_auth_req",
                      wire::build_protected_message(
                          header(gcm.spi_i, gcm.spi_r, ExchangeType::ike_auth, kInitiatorRequest, 1),
                          chain.first_type(), *plain, *gcm_i, tool.rng(), buf),
                      gcm, true);
  // The same request in SKF fragments (RFC 7383) of at most 256 octets, under
  // the AES-CBC + HMAC SA so that every fragment's ICV can be checked.
  {
    const auto h = header(cbc.spi_i, cbc.spi_r, ExchangeType::ike_auth, kInitiatorRequest, 1);
    auto fragmenter = wire::Fragmenter::make(h, chain.first_type(), *plain, *cbc_i, 256);
    if (!fragmenter) {
      print_status("fragmenter", fragmenter.status());
      return 1;
    }
    if (fragmenter->count() < 3) {
      std::fprintf(stderr, "ike_tool: only %u fragments\n", fragmenter->count());
      return 1;
    }
    for (uint16_t i = 1; i <= fragmenter->count(); ++i) {
      const std::string name = "skf_cbc_auth_req_" + std::to_string(i);
      tool.emit_protected(name.c_str(), fragmenter->build(i, *cbc_i, tool.rng(), buf), cbc, true);
    }
  }
  std::fflush(stdout);
  return tool.ok() ? 0 : 1;
}
