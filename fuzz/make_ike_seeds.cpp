// SPDX-License-Identifier: Apache-2.0
// make_ike_seeds: writes the seed corpora of the IKEv2 fuzz targets,
// fuzz/corpus/ike_message/, fuzz/corpus/ike_inner/ and fuzz/corpus/ike_policy/
// (whose CERT payloads carry the test PKI of tests/data/x509). Built only on demand
// (EXCLUDE_FROM_ALL); deterministic (SeededRng, fixed keys), so running it
// again rewrites the same files:
//   cmake --build build/fuzz --target make_ike_seeds
//   build/fuzz/fuzz/make_ike_seeds fuzz/corpus
// The messages are typical exchanges (RFC 7296 1.2-1.5, RFC 7383, RFC 7427)
// built with the library's own builders; the SK and SKF ones are sealed
// with the keys of ike_fuzz_common.hpp, which ike_inner_fuzz opens with.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ike_fuzz_common.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/wire/ike_fragment.hpp"

using namespace ike_fuzz;

namespace {

std::string g_dir;

void write_file(const std::string& sub, const std::string& name, ByteView bytes) {
  const std::string path = g_dir + "/" + sub + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  // The last buffered octets are written at close.
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 37 * i);
  return v;
}

IkeHeader header(ExchangeType x, uint32_t id, bool response, bool init) {
  IkeHeader h;
  h.spi_i = 0x0102030405060708ull;
  h.spi_r = init && !response ? 0 : 0x1112131415161718ull;
  h.exchange = x;
  h.flags = static_cast<uint8_t>((response ? ike_flag::kResponse : 0) | ike_flag::kInitiator);
  h.message_id = id;
  return h;
}

std::vector<uint8_t> done(Result<ByteView> r) {
  if (!r) {
    std::fprintf(stderr, "build failed: %s\n", std::string(r.status().name()).c_str());
    std::exit(1);
  }
  return {r->begin(), r->end()};
}

// Test data shared by the messages.
const std::vector<uint8_t> kKe = pattern(32, 0x31);
const std::vector<uint8_t> kNonce = pattern(32, 0x45);
const std::vector<uint8_t> kNatd1 = pattern(20, 0x51);
const std::vector<uint8_t> kNatd2 = pattern(20, 0x62);
const std::array<uint8_t, 6> kHashAlgs = {0, 2, 0, 3, 0, 4};  // SHA2-256/384/512 (RFC 7427)
const std::array<uint8_t, 7> kEd25519Ai = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
const std::array<uint8_t, 4> kEspSpi = {0xc0, 0x01, 0xd0, 0x0d};
const std::array<uint8_t, 4> kEspSpi2 = {0xc0, 0x02, 0xd0, 0x0d};
const std::array<uint8_t, 8> kIkeSpi = {0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28};
const std::array<uint8_t, 4> kV4a = {10, 1, 0, 0}, kV4b = {10, 1, 255, 255};
const std::array<uint8_t, 4> kV4c = {10, 2, 0, 0}, kV4d = {10, 2, 255, 255};
const std::array<uint8_t, 16> kV6a = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
const std::array<uint8_t, 16> kV6b = {0x20, 0x01, 0x0d, 0xb8, 0,    1,    0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
// A DER SEQUENCE standing in for a Distinguished Name: SEQ { SET { SEQ { OID 2.5.4.3, UTF8 "b" } } }.
const std::array<uint8_t, 14> kDn = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06,
                                     0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 'b'};

const Transform kIkeGcm[] = {
    {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
    {TransformType::prf, static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256), std::nullopt, {}, 0},
    {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
};
const Transform kIkeCbc[] = {
    {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_cbc), 128, {}, 0},
    {TransformType::prf, static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256), std::nullopt, {}, 0},
    {TransformType::integ, static_cast<uint16_t>(crypto::IntegId::hmac_sha2_256_128), std::nullopt, {}, 0},
    {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
    {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::modp2048), std::nullopt, {}, 0},
};
const Transform kEspGcm[] = {
    {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
    {TransformType::esn, static_cast<uint16_t>(EsnId::no_esn), std::nullopt, {}, 0},
    {TransformType::esn, static_cast<uint16_t>(EsnId::esn), std::nullopt, {}, 0},
};
const Transform kEspCbcKe[] = {
    {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_cbc), 128, {}, 0},
    {TransformType::integ, static_cast<uint16_t>(crypto::IntegId::hmac_sha2_256_128), std::nullopt, {}, 0},
    {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
    {TransformType::esn, static_cast<uint16_t>(EsnId::no_esn), std::nullopt, {}, 0},
};

std::vector<TrafficSelector> ts_list(bool initiator) {
  TrafficSelector v4;
  v4.start_address = initiator ? ByteView(kV4a) : ByteView(kV4c);
  v4.end_address = initiator ? ByteView(kV4b) : ByteView(kV4d);
  TrafficSelector v6;
  v6.type = TsType::ipv6_addr_range;
  v6.ip_protocol = 17;
  v6.start_port = 500;
  v6.end_port = 4500;
  v6.start_address = kV6a;
  v6.end_address = kV6b;
  return {v4, v6};
}

void sa_init_request(PayloadChainWriter& w) {
  const Proposal p[] = {{1, ProtocolId::ike, {}, kIkeGcm}, {2, ProtocolId::ike, {}, kIkeCbc}};
  w.add_sa(p);
  w.add_ke({crypto::KeGroup::curve25519, kKe});
  w.add_nonce(kNonce);
  w.add_notify(NotifyType::nat_detection_source_ip, kNatd1);
  w.add_notify(NotifyType::nat_detection_destination_ip, kNatd2);
  w.add_notify(NotifyType::ikev2_fragmentation_supported);
  w.add_notify(NotifyType::signature_hash_algorithms, kHashAlgs);
}

// IKE_AUTH request inner chain: IDi, CERT, CERTREQ, N(INITIAL_CONTACT), IDr,
// AUTH (RFC 7427), CP(CFG_REQUEST), SA, TSi, TSr, N(USE_TRANSPORT_MODE).
void auth_request(PayloadChainWriter& w, const std::vector<uint8_t>& cert, const std::vector<uint8_t>& auth,
                  const std::vector<TrafficSelector>& tsi, const std::vector<TrafficSelector>& tsr) {
  static const std::array<uint8_t, 14> fqdn = {'a', '.', 'e', 'x', 'a', 'm', 'p',
                                               'l', 'e', '.', 't', 'e', 's', 't'};
  w.add_id(PayloadType::id_i, {IdType::fqdn, fqdn});
  w.add_cert({CertEncoding::x509_signature, cert});
  static const std::vector<uint8_t> authorities = pattern(40, 0x77);
  w.add_certreq({CertEncoding::x509_signature, authorities});
  w.add_notify(NotifyType::initial_contact);
  w.add_id(PayloadType::id_r, {IdType::der_asn1_dn, kDn});
  w.add_auth({AuthMethod::digital_signature, auth});
  const ConfigAttribute attrs[] = {{CfgAttribute::internal_ip4_address, {}},
                                   {CfgAttribute::internal_ip4_dns, {}},
                                   {CfgAttribute::internal_ip6_address, {}}};
  w.add_cp(CfgType::request, attrs);
  const Proposal p[] = {{1, ProtocolId::esp, kEspSpi, kEspGcm}};
  w.add_sa(p);
  w.add_ts(PayloadType::ts_i, tsi);
  w.add_ts(PayloadType::ts_r, tsr);
  w.add_notify(NotifyType::use_transport_mode);
}

std::vector<uint8_t> signature_auth() {
  // Sized up front: GCC 12 -O2 -Warray-bounds misjudges push_back then
  // insert on a fresh vector once this is inlined twice.
  const auto sig = pattern(64, 0x99);
  std::vector<uint8_t> a(1 + kEd25519Ai.size() + sig.size());
  a[0] = static_cast<uint8_t>(kEd25519Ai.size());
  std::copy(kEd25519Ai.begin(), kEd25519Ai.end(), a.begin() + 1);
  std::copy(sig.begin(), sig.end(), a.begin() + 1 + static_cast<std::ptrdiff_t>(kEd25519Ai.size()));
  return a;
}

// A DER certificate-shaped blob of about 600 octets (one SEQUENCE).
std::vector<uint8_t> fake_cert() {
  std::vector<uint8_t> c = {0x30, 0x82, 0x02, 0x54};
  const auto body = pattern(0x254, 0x13);
  c.insert(c.end(), body.begin(), body.end());
  return c;
}

void add_inner(const std::string& name, PayloadType first, ByteView chain) {
  std::vector<uint8_t> v;
  v.push_back(static_cast<uint8_t>(first));
  v.insert(v.end(), chain.begin(), chain.end());
  write_file("ike_inner", name, v);
}

std::vector<uint8_t> read_x509(const char* name) {
  const std::string path = std::string(IPSEC_FUZZ_X509_DIR) + "/" + name;
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(1);
  }
  int c = 0;
  while ((c = std::fgetc(f)) != EOF) out.push_back(static_cast<uint8_t>(c));
  (void)std::fclose(f);  // opened for reading: nothing is lost on close
  return out;
}

// add_policy: an ike_policy input: the policy octet, then a chain.
void add_policy(const std::string& name, uint8_t policy, ChainBuilder& c) {
  const auto chain = done(c.finish());
  std::vector<uint8_t> v = {policy, static_cast<uint8_t>(c.first_type())};
  v.insert(v.end(), chain.begin(), chain.end());
  write_file("ike_policy", name, v);
}

// The ike_policy seeds: what a peer sends in IKE_AUTH and CREATE_CHILD_SA
// (RFC 7296 1.2, 1.3), against each of the target's policy sets.
void policy_seeds(std::vector<uint8_t>& buf) {
  const auto ec_leaf = read_x509("ec-leaf.der"), ec_int = read_x509("ec-int.der");
  const auto rsa_leaf = read_x509("rsa-leaf.der"), rsa_int = read_x509("rsa-int.der");
  const auto ed_leaf = read_x509("ed25519/ed-leaf.der");
  static const std::array<uint8_t, 15> fqdn = {'g', 'w', '.', 'e', 'x', 'a', 'm', 'p',
                                               'l', 'e', '.', 't', 'e', 's', 't'};
  static const std::array<uint8_t, 18> email = {'a', 'l', 'i', 'c', 'e', '@', 'e', 'x', 'a',
                                                'm', 'p', 'l', 'e', '.', 't', 'e', 's', 't'};
  static const std::array<uint8_t, 4> v4 = {10, 0, 0, 5};
  static const std::array<uint8_t, 3> keyid = {0x0a, 0x1b, 0x2c};
  const std::array<uint8_t, 4> a1 = {10, 1, 2, 0}, a2 = {10, 1, 2, 255}, b1 = {10, 1, 1, 0},
                               b2 = {10, 1, 1, 255};
  const std::array<uint8_t, 4> any1 = {0, 0, 0, 0}, any2 = {255, 255, 255, 255};
  const std::array<uint8_t, 4> c1 = {192, 168, 7, 0}, c2 = {192, 168, 7, 255}, h = {10, 0, 0, 1};
  TrafficSelector ti{TsType::ipv4_addr_range, 0, 0, 65535, a1, a2, {}};
  TrafficSelector tr{TsType::ipv4_addr_range, 0, 0, 65535, b1, b2, {}};
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_i, {IdType::fqdn, fqdn});
    c.payloads().add_auth({AuthMethod::shared_key_mic, pattern(32, 0xa5)});
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi, kEspGcm}, {2, ProtocolId::esp, kEspSpi2, kEspCbcKe}};
    c.payloads().add_sa(p);
    c.payloads().add_ts(PayloadType::ts_i, std::span<const TrafficSelector>(&ti, 1));
    c.payloads().add_ts(PayloadType::ts_r, std::span<const TrafficSelector>(&tr, 1));
    add_policy("auth_psk_ts0", 0x00, c);
  }
  {
    ChainBuilder c(buf);
    const Proposal p[] = {{1, ProtocolId::ike, kIkeSpi, kIkeGcm}, {2, ProtocolId::ike, kIkeSpi, kIkeCbc}};
    c.payloads().add_sa(p);
    c.payloads().add_nonce(kNonce);
    c.payloads().add_ke({crypto::KeGroup::curve25519, kKe});
    add_policy("rekey_ike_0", 0x00, c);
    add_policy("rekey_ike_1", 0x01, c);
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_r, {IdType::der_asn1_dn, kDn});
    c.payloads().add_cert({CertEncoding::x509_signature, ec_leaf});
    c.payloads().add_cert({CertEncoding::x509_signature, ec_int});
    c.payloads().add_certreq({CertEncoding::x509_signature, pattern(40, 0x77)});
    c.payloads().add_auth({AuthMethod::ecdsa_sha256_p256, pattern(64, 0x42)});
    add_policy("auth_ec_chain", 0x80, c);
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_i, {IdType::fqdn, fqdn});
    c.payloads().add_cert({CertEncoding::x509_signature, rsa_leaf});
    c.payloads().add_cert({CertEncoding::x509_signature, rsa_int});
    static const std::array<uint8_t, 16> pss = {15,   0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                                0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    std::vector<uint8_t> auth(pss.begin(), pss.end());
    const auto sig = pattern(256, 0x10);
    auth.insert(auth.end(), sig.begin(), sig.end());
    c.payloads().add_auth({AuthMethod::digital_signature, auth});
    add_policy("auth_rsa_chain", 0x00, c);
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_i, {IdType::rfc822_addr, email});
    c.payloads().add_cert({CertEncoding::x509_signature, ed_leaf});
    c.payloads().add_auth({AuthMethod::digital_signature, signature_auth()});
    const ConfigAttribute attrs[] = {{CfgAttribute::internal_ip4_address, {}},
                                     {CfgAttribute::internal_ip6_address, {}}};
    c.payloads().add_cp(CfgType::request, attrs);
    add_policy("auth_ed25519_cp", 0x00, c);
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_i, {IdType::ipv4_addr, v4});
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi, kEspGcm}};
    c.payloads().add_sa(p);
    TrafficSelector any{TsType::ipv4_addr_range, 0, 0, 65535, any1, any2, {}};
    TrafficSelector web{TsType::ipv4_addr_range, 6, 443, 443, h, h, {}};
    TrafficSelector icmp{TsType::ipv4_addr_range, 1, 0x0800, 0x08ff, c1, c2, {}};
    TrafficSelector opaque{TsType::ipv4_addr_range, 17, 65535, 0, h, h, {}};
    const TrafficSelector i[] = {any, icmp, opaque};
    const TrafficSelector r[] = {web, any, opaque};

    c.payloads().add_ts(PayloadType::ts_i, i);
    c.payloads().add_ts(PayloadType::ts_r, r);
    add_policy("ts_mixed_1", 0x14, c);
    add_policy("ts_mixed_2", 0x28, c);
    add_policy("ts_mixed_3", 0x3c, c);
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_i, {IdType::key_id, keyid});
    c.payloads().add_id(PayloadType::id_r, {IdType::null_id, {}});
    const auto v6 = ts_list(false);
    c.payloads().add_ts(PayloadType::ts_i, v6);
    c.payloads().add_ts(PayloadType::ts_r, ts_list(true));
    add_policy("ids_v6_ts", 0x50, c);
  }
  {
    ChainBuilder c(buf);
    static const Transform ah[] = {
        {TransformType::integ,
         static_cast<uint16_t>(crypto::IntegId::hmac_sha2_256_128),
         std::nullopt,
         {},
         0},
        {TransformType::esn, static_cast<uint16_t>(EsnId::no_esn), std::nullopt, {}, 0},
    };
    const Proposal p[] = {{1, ProtocolId::ah, kEspSpi, ah}};
    c.payloads().add_sa(p);
    add_policy("sa_ah", 0x00, c);
  }
}

void append_datagram(std::vector<uint8_t>& out, ByteView d) {
  out.push_back(static_cast<uint8_t>(d.size() >> 8));
  out.push_back(static_cast<uint8_t>(d.size()));
  out.insert(out.end(), d.begin(), d.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s fuzz/corpus\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  crypto::DefaultProvider provider;
  crypto::SeededRng rng(uint64_t{0x5eed});
  std::vector<uint8_t> buf(65536);
  const auto cert = fake_cert();
  const auto auth = signature_auth();
  const auto tsi = ts_list(true), tsr = ts_list(false);

  // Plaintext messages for ike_message.
  {
    MessageBuilder b(buf, header(ExchangeType::ike_sa_init, 0, false, true));
    sa_init_request(b.payloads());
    b.payloads().add_vendor_id(pattern(16, 0x01));
    write_file("ike_message", "ike_sa_init_request", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_sa_init, 0, true, true));
    const Proposal p[] = {{1, ProtocolId::ike, {}, kIkeGcm}};
    b.payloads().add_sa(p);
    b.payloads().add_ke({crypto::KeGroup::curve25519, kKe});
    b.payloads().add_nonce(kNonce);
    b.payloads().add_notify(NotifyType::nat_detection_source_ip, kNatd2);
    b.payloads().add_notify(NotifyType::nat_detection_destination_ip, kNatd1);
    b.payloads().add_certreq({CertEncoding::x509_signature, pattern(20, 0x44)});
    b.payloads().add_notify(NotifyType::ikev2_fragmentation_supported);
    b.payloads().add_notify(NotifyType::signature_hash_algorithms, kHashAlgs);
    write_file("ike_message", "ike_sa_init_response", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_sa_init, 0, true, true));
    const std::array<uint8_t, 2> group = {0, 19};
    b.payloads().add_notify(NotifyType::invalid_ke_payload, group);
    write_file("ike_message", "ike_sa_init_invalid_ke", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_sa_init, 0, false, true));
    b.payloads().add_notify(NotifyType::cookie, pattern(32, 0xc0));
    sa_init_request(b.payloads());
    write_file("ike_message", "ike_sa_init_cookie", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_auth, 1, false, false));
    auth_request(b.payloads(), cert, auth, tsi, tsr);
    write_file("ike_message", "ike_auth_plain", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::create_child_sa, 2, false, false));
    b.payloads().add_notify({ProtocolId::esp, NotifyType::rekey_sa, kEspSpi, {}});
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi2, kEspCbcKe}};
    b.payloads().add_sa(p);
    b.payloads().add_nonce(kNonce);
    b.payloads().add_ke({crypto::KeGroup::curve25519, kKe});
    b.payloads().add_ts(PayloadType::ts_i, tsi);
    b.payloads().add_ts(PayloadType::ts_r, tsr);
    write_file("ike_message", "create_child_sa_rekey_child", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::create_child_sa, 3, false, false));
    const Proposal p[] = {{1, ProtocolId::ike, kIkeSpi, kIkeGcm}};
    b.payloads().add_sa(p);
    b.payloads().add_nonce(kNonce);
    b.payloads().add_ke({crypto::KeGroup::curve25519, kKe});
    write_file("ike_message", "create_child_sa_rekey_ike", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::informational, 4, false, false));
    std::array<uint8_t, 8> spis = {0xc0, 0x01, 0xd0, 0x0d, 0xc0, 0x02, 0xd0, 0x0d};
    b.payloads().add_delete({ProtocolId::esp, 4, 2, spis});
    b.payloads().add_delete({ProtocolId::ike, 0, 0, {}});
    write_file("ike_message", "informational_delete", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::informational, 5, true, false));
    write_file("ike_message", "informational_empty", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_auth, 1, true, false));
    b.payloads().add_id(PayloadType::id_r, {IdType::ipv4_addr, kV4a});
    b.payloads().add_auth({AuthMethod::shared_key_mic, pattern(32, 0xa5)});
    const std::array<uint8_t, 4> addr = {10, 9, 0, 2};
    const std::array<uint8_t, 17> addr6 = {0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 64};
    const ConfigAttribute attrs[] = {{CfgAttribute::internal_ip4_address, addr},
                                     {CfgAttribute::internal_ip4_dns, addr},
                                     {CfgAttribute::internal_ip6_address, addr6}};
    b.payloads().add_cp(CfgType::reply, attrs);
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi2, std::span<const Transform>(kEspGcm).first(2)}};
    b.payloads().add_sa(p);
    b.payloads().add_ts(PayloadType::ts_i, tsi);
    b.payloads().add_ts(PayloadType::ts_r, tsr);
    write_file("ike_message", "ike_auth_response_cp", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::ike_auth, 1, false, false));
    b.payloads().add_id(PayloadType::id_i, {IdType::rfc822_addr, pattern(12, 'a')});
    const std::array<uint8_t, 5> identity = {2, 7, 0, 5, 1};  // EAP Response/Identity, empty
    b.payloads().add_eap(identity);
    const std::array<uint8_t, 4> success = {3, 8, 0, 4};
    b.payloads().add_eap(success);
    b.payloads().add_id(PayloadType::id_r, {IdType::null_id, {}});
    b.payloads().add_auth({AuthMethod::null_auth, pattern(20, 0)});
    write_file("ike_message", "ike_auth_eap", done(b.finish()));
  }
  {
    MessageBuilder b(buf, header(ExchangeType::informational, 6, false, false));
    b.payloads().add_raw(static_cast<PayloadType>(200), pattern(9, 0x20));
    b.payloads().add_notify(static_cast<NotifyType>(40960), pattern(3, 0));
    b.payloads().add_raw(PayloadType::gspm, pattern(4, 0x30));
    write_file("ike_message", "informational_unknown_payloads", done(b.finish()));
  }

  // Plaintext inner chains for ike_inner, and the same sealed.
  struct Chain {
    const char* name;
    ExchangeType exchange;
    uint32_t id;
    bool response;
    std::vector<uint8_t> bytes;
    PayloadType first;
  };
  std::vector<Chain> chains;
  {
    ChainBuilder c(buf);
    auth_request(c.payloads(), cert, auth, tsi, tsr);
    chains.push_back(
        {"ike_auth_request", ExchangeType::ike_auth, 1, false, done(c.finish()), c.first_type()});
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_id(PayloadType::id_r, {IdType::ipv6_addr, kV6a});
    c.payloads().add_auth({AuthMethod::shared_key_mic, pattern(32, 0xa5)});
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi2, kEspGcm}};
    c.payloads().add_sa(p);
    c.payloads().add_ts(PayloadType::ts_i, tsi);
    c.payloads().add_ts(PayloadType::ts_r, tsr);
    chains.push_back(
        {"ike_auth_response", ExchangeType::ike_auth, 1, true, done(c.finish()), c.first_type()});
  }
  {
    ChainBuilder c(buf);
    std::array<uint8_t, 4> spis = {0xc0, 0x01, 0xd0, 0x0d};
    c.payloads().add_delete({ProtocolId::esp, 4, 1, spis});
    chains.push_back(
        {"informational_delete", ExchangeType::informational, 3, false, done(c.finish()), c.first_type()});
  }
  {
    ChainBuilder c(buf);
    c.payloads().add_notify({ProtocolId::esp, NotifyType::rekey_sa, kEspSpi, {}});
    const Proposal p[] = {{1, ProtocolId::esp, kEspSpi2, kEspCbcKe}};
    c.payloads().add_sa(p);
    c.payloads().add_nonce(kNonce);
    c.payloads().add_ke({crypto::KeGroup::curve25519, kKe});
    c.payloads().add_ts(PayloadType::ts_i, tsi);
    c.payloads().add_ts(PayloadType::ts_r, tsr);
    chains.push_back(
        {"create_child_sa", ExchangeType::create_child_sa, 2, false, done(c.finish()), c.first_type()});
  }
  {
    ChainBuilder c(buf);
    const std::array<uint8_t, 6> request = {1, 9, 0,
                                            6, 4, 16};  // EAP Request/MD5-Challenge (truncated value)
    c.payloads().add_eap(request);
    const ConfigAttribute attrs[] = {{CfgAttribute::internal_ip4_address, {}}};
    c.payloads().add_cp(CfgType::request, attrs);
    chains.push_back({"eap_cp", ExchangeType::ike_auth, 2, true, done(c.finish()), c.first_type()});
  }
  for (const Chain& c : chains) add_inner(std::string("chain_") + c.name, c.first, c.bytes);
  add_inner("chain_empty", PayloadType::none, {});

  for (const Suite suite : {Suite::cbc_hmac, Suite::gcm}) {
    const std::string tag = suite == Suite::gcm ? "gcm" : "cbc";
    auto keys = make_fixed_keys(provider, suite);
    if (!keys) return 1;
    for (const Chain& c : chains) {
      std::vector<uint8_t> out(65536);
      const IkeHeader h = header(c.exchange, c.id, c.response, false);
      auto sealed = build_protected_message(h, c.first, c.bytes, *keys, rng, out);
      auto message = done(sealed);
      write_file("ike_message", "sk_" + tag + "_" + c.name, message);
      // What ike_inner_fuzz will do with it: it must open.
      {
        auto check = make_fixed_keys(provider, suite);
        std::vector<uint8_t> copy = message;
        static ParsedMessage m;
        if (!check || !parse_message(copy, &m).ok() || !open_protected_message(*check, copy, m).ok()) {
          std::fprintf(stderr, "sealed seed %s does not open\n", c.name);
          return 1;
        }
      }
      std::vector<uint8_t> input = {static_cast<uint8_t>(suite)};
      append_datagram(input, message);
      write_file("ike_inner", "sk_" + tag + "_" + c.name, input);
    }
    // IKE_AUTH request fragmented for a 300-octet message size (RFC 7383),
    // all fragments in one input, the last one first.
    const Chain& c = chains.front();
    auto frag = Fragmenter::make(header(c.exchange, c.id, c.response, false), c.first, c.bytes, *keys, 300);
    if (!frag) return 1;
    std::vector<std::vector<uint8_t>> fragments;
    for (uint16_t n = 1; n <= frag->count(); ++n) {
      std::vector<uint8_t> out(512);
      fragments.push_back(done(frag->build(n, *keys, rng, out)));
      write_file("ike_message", "skf_" + tag + "_" + std::to_string(n), fragments.back());
    }
    std::vector<uint8_t> input = {static_cast<uint8_t>(suite)};
    for (size_t i = fragments.size(); i-- > 0;) append_datagram(input, fragments[i]);
    write_file("ike_inner", "skf_" + tag + "_ike_auth_request", input);
  }
  policy_seeds(buf);
  std::printf("wrote seeds under %s\n", g_dir.c_str());
  return 0;
}
