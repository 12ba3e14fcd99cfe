// SPDX-License-Identifier: Apache-2.0
// Known-answer tests on whole ESP packets: published ESP packets are fed to
// esp::open / esp::open_esp and the payload compared, and where our
// sequence-number IV rule lets us, esp::seal is compared byte for byte.
//
// Sources:
//  - RFC 7634 appendix A: ChaCha20-Poly1305 tunnel-mode ESP example.
//  - D. McGrew, "Test Cases for the use of Galois/Counter Mode (GCM) and
//    Galois Message Authentication Code (GMAC) in IPsec ESP",
//    draft-mcgrew-gcm-test-01 (March 2009), section 4: AES-GCM ESP packets.
//  - RFC 3602 section 4, cases 5-8: AES-CBC ESP packets (no ICV).
#include "ipsec/esp/esp.hpp"

#include <doctest/doctest.h>

#include <string>

#include "esp/esp_test_util.hpp"

using namespace ipsec;
using namespace ipsec::test;
using crypto::EncrId;
using crypto::IntegId;

namespace {

Bytes cat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// esp_packet: SPI | low 32 bits of the sequence number | IV | ciphertext [| ICV].
Bytes esp_packet(uint32_t spi, uint64_t seq, const Bytes& iv, const Bytes& rest) {
  Bytes p(8);
  store_be32(std::span<uint8_t, 8>(p).first<4>(), spi);
  store_be32(std::span<uint8_t, 8>(p).last<4>(), static_cast<uint32_t>(seq));
  return cat(cat(p, iv), rest);
}

// ipv4_around: a 20-octet IPv4 header (protocol ESP, valid checksum) in
// front of `payload`, as a host would receive the packet.
Bytes ipv4_around(const Bytes& payload, uint8_t protocol = 50, uint8_t tos = 0) {
  Bytes h(20);
  h[0] = 0x45;
  h[1] = tos;
  store_be16(std::span<uint8_t, 20>(h).subspan<2, 2>(), static_cast<uint16_t>(20 + payload.size()));
  h[8] = 64;
  h[9] = protocol;
  const Bytes src = {192, 0, 2, 1}, dst = {192, 0, 2, 2};
  std::copy(src.begin(), src.end(), h.begin() + 12);
  std::copy(dst.begin(), dst.end(), h.begin() + 16);
  const uint16_t c = wire::internet_checksum(h);
  store_be16(std::span<uint8_t, 20>(h).subspan<10, 2>(), c);
  return cat(h, payload);
}

// The payload and next header an ESP plaintext (payload | padding | pad
// length | next header) carries.
struct Payload {
  Bytes data;
  uint8_t next_header = 0;
};
Payload split_trailer(const Bytes& plaintext) {
  REQUIRE(plaintext.size() >= 2);
  const size_t pad = plaintext[plaintext.size() - 2];
  REQUIRE(pad + 2 <= plaintext.size());
  return {Bytes(plaintext.begin(), plaintext.end() - static_cast<std::ptrdiff_t>(pad + 2)), plaintext.back()};
}

// prime_window: make the receiver's window expect `seq`: with ESN the
// high-order half is implicit (RFC 4303 2.2.1), so the receiver must
// already be in that subspace; a commit of seq - 1 puts it there.
void prime_window(esp::InboundSa& sa, uint64_t seq) {
  if (seq > 1) (void)sa.mutable_window().commit(seq - 1);
}

// open_transport_kat: the ESP packet inside an IPv4 header, opened by a
// transport-mode SA: the IP header comes back with the next header in its
// protocol field, followed by the payload.
void open_transport_kat(esp::InboundSa& sa, const Bytes& esp_bytes, uint64_t seq, const Payload& want) {
  const Bytes datagram = ipv4_around(esp_bytes);
  HostBuffer buf(datagram);
  auto opened = esp::open(sa, buf.pb);
  REQUIRE_MESSAGE(opened.ok(), opened.status().name());
  CHECK(opened->sequence == seq);
  CHECK(opened->next_header == want.next_header);
  const Bytes out = buf.bytes();
  REQUIRE(out.size() == 20 + want.data.size());
  CHECK(to_hex(ByteView(out).subspan(20)) == to_hex(want.data));
  auto h = wire::Ipv4Header::parse(out);
  REQUIRE(h.ok());
  CHECK(static_cast<uint8_t>(h->protocol) == want.next_header);
  CHECK(h->total_length == out.size());
  CHECK(h->checksum_valid());
  // Replaying the same packet is refused (RFC 4303 3.4.3).
  HostBuffer again(datagram);
  CHECK(esp::open(sa, again.pb).error() == Errc::replayed);
}

struct NamedProvider {
  std::string name;
  crypto::Provider* provider;
};
std::vector<NamedProvider> all_providers() {
  static crypto::MbedtlsProvider mbedtls;
  static crypto::SodiumProvider sodium;
  static crypto::DefaultProvider fallback;
  return {{"mbedtls", &mbedtls}, {"libsodium", &sodium}, {"default", &fallback}};
}

// make_in: an inbound SA, or nullptr when the provider lacks the transform.
std::unique_ptr<esp::InboundSa> make_in(const esp::SaConfig& c, crypto::Provider& p) {
  auto in = esp::InboundSa::create(c, p);
  if (!in && in.error() == Errc::unsupported_algorithm) return nullptr;
  REQUIRE_MESSAGE(in.ok(), in.status().name());
  return std::move(*in);
}

// ---- RFC 7634 appendix A --------------------------------------------------------------------

// KEYMAT = key 80..9f || salt a0a1a2a3; SPI 0x01020304, sequence number 5,
// IV 1011121314151617; the plaintext is an IPv4 ICMP echo request followed
// by the ESP trailer (padding 01 02, pad length 2, next header 4).
constexpr const char* kRfc7634Keymat =
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3";
constexpr uint32_t kRfc7634Spi = 0x01020304;
constexpr uint64_t kRfc7634Seq = 5;
constexpr const char* kRfc7634Iv = "1011121314151617";
constexpr const char* kRfc7634Plaintext =
    "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d"
    "0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30313233343536"
    "3701020204";
constexpr const char* kRfc7634Ciphertext =
    "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa"
    "95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b828"
    "29f641e0";
constexpr const char* kRfc7634Tag = "76aaa8266b7fb0f7b11b369907e1ad43";

esp::SaConfig rfc7634_config(const Bytes& keymat) {
  esp::SaConfig c;
  c.spi = kRfc7634Spi;
  c.encr = EncrId::chacha20_poly1305;
  c.encr_key_bits = 0;
  c.encr_keymat = keymat;
  c.mode = esp::Mode::tunnel;
  c.tunnel = tunnel4();
  return c;
}

}  // namespace

TEST_CASE("ESP KAT: RFC 7634 appendix A (ChaCha20-Poly1305) decapsulates to the RFC's inner packet") {
  const Bytes keymat = from_hex(kRfc7634Keymat);
  const Bytes esp_bytes = esp_packet(kRfc7634Spi, kRfc7634Seq, from_hex(kRfc7634Iv),
                                     cat(from_hex(kRfc7634Ciphertext), from_hex(kRfc7634Tag)));
  const Payload want = split_trailer(from_hex(kRfc7634Plaintext));
  REQUIRE(want.next_header == 4);  // IPv4 inside: tunnel mode
  REQUIRE(want.data.size() == 0x54);
  for (const NamedProvider& np : all_providers()) {
    INFO("provider " << np.name);
    auto in = make_in(rfc7634_config(keymat), *np.provider);
    if (!in) continue;
    {  // The ESP part alone, as read from a UDP or raw socket.
      HostBuffer buf(esp_bytes);
      auto opened = esp::open_esp(*in, buf.pb);
      REQUIRE_MESSAGE(opened.ok(), opened.status().name());
      CHECK(opened->sequence == kRfc7634Seq);
      CHECK(opened->next_header == 4);
      CHECK(to_hex(buf.bytes()) == to_hex(want.data));
    }
    {  // The whole datagram, with a fresh SA.
      auto in2 = make_in(rfc7634_config(keymat), *np.provider);
      HostBuffer buf(ipv4_around(esp_bytes));
      auto opened = esp::open(*in2, buf.pb);
      REQUIRE_MESSAGE(opened.ok(), opened.status().name());
      CHECK(to_hex(buf.bytes()) == to_hex(want.data));
      CHECK(in2->counters().packets == 1);
      CHECK(in2->counters().bytes == want.data.size());
    }
    // A second copy is a replay.
    HostBuffer dup(esp_bytes);
    CHECK(esp::open_esp(*in, dup.pb).error() == Errc::replayed);
    // Under another SPI it is not for this SA; under another sequence
    // number (same IV) the AAD differs and the tag fails.
    Bytes other_seq = esp_bytes;
    other_seq[7] = 6;
    HostBuffer b6(other_seq);
    CHECK(esp::open_esp(*in, b6.pb).error() == Errc::integrity_check_failed);
    CHECK(in->counters().auth_failures == 1);
  }
}

TEST_CASE("ESP KAT: RFC 7634 appendix A cannot be resealed (its IV is not the sequence number)") {
  // RFC 7634 section 2 lets the IV be any unique value; the example uses
  // 1011121314151617 with sequence number 5. Our seal uses the sequence
  // number as the IV (RFC 7634 2: "a counter ... is the natural choice"),
  // so it cannot reproduce the RFC's ciphertext. What it must reproduce is
  // the same construction with IV = 0000000000000005: AAD = SPI | sequence
  // number, nonce = salt | IV, the RFC's plaintext (payload and trailer).
  const Bytes keymat = from_hex(kRfc7634Keymat);
  crypto::DefaultProvider provider;
  auto c = rfc7634_config(keymat);
  auto out = esp::OutboundSa::create(c, provider);
  REQUIRE(out.ok());
  (*out)->set_sequence(kRfc7634Seq - 1);
  const Payload inner = split_trailer(from_hex(kRfc7634Plaintext));
  HostBuffer buf(inner.data);
  auto sealed = esp::seal(**out, buf.pb);
  REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
  CHECK(sealed->sequence == kRfc7634Seq);
  const Bytes wire = buf.bytes();
  const Bytes esp_part(wire.begin() + static_cast<std::ptrdiff_t>(sealed->esp_offset), wire.end());

  auto aead = provider.make_aead(EncrId::chacha20_poly1305, 0, keymat);
  REQUIRE(aead.ok());
  const Bytes iv = from_hex("0000000000000005");
  Bytes body = from_hex(kRfc7634Plaintext);
  Bytes tag(16);
  REQUIRE((*aead)->seal(iv, from_hex("0102030400000005"), body, tag).ok());
  const Bytes want = esp_packet(kRfc7634Spi, kRfc7634Seq, iv, cat(body, tag));
  CHECK(to_hex(esp_part) == to_hex(want));
  // And the RFC's own IV gives the RFC's ciphertext under the same API.
  Bytes rfc_body = from_hex(kRfc7634Plaintext);
  REQUIRE((*aead)->seal(from_hex(kRfc7634Iv), from_hex("0102030400000005"), rfc_body, tag).ok());
  CHECK(to_hex(rfc_body) == kRfc7634Ciphertext);
  CHECK(to_hex(tag) == kRfc7634Tag);
}

// ---- draft-mcgrew-gcm-test-01 section 4 ---------------------------------------------------------

namespace {

// One AES-GCM ESP packet of the draft. The AAD the draft prints is SPI |
// sequence number (8 octets) or SPI | Seqh | Seql (12 octets, ESN); the
// nonce is salt (4 octets) | IV (8 octets). All use a 16-octet ICV. Every
// plaintext carries next header 1, so the packets are opened in transport
// mode (a tunnel-mode SA would refuse a payload that is not IP).
struct GcmEspCase {
  const char* label;
  uint16_t key_bits;
  const char* key;
  const char* salt;
  uint32_t spi;
  uint64_t seq;
  bool esn;
  const char* iv;
  const char* plaintext;  // payload | padding | pad length | next header
  const char* ciphertext_and_icv;
};

const GcmEspCase kGcmEspCases[] = {
    {"AES-128, SPI 0x00004321, ESN 0x87654321:00000000", 128, "4c80cdefbb5d10da906ac73c3613a634", "2e443b68",
     0x00004321, 0x8765432100000000, true, "4956ed7e3b244cfe",
     "45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f75647003736970096"
     "3"
     "796265726369747902646b000021000101020201",
     "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1"
     "8"
     "84f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe722fd04796562dfdb4"},
    {"AES-128, SPI 0x0000a5f8, sequence 10", 128, "feffe9928665731c6d6a8f9467308308", "cafebabe", 0x0000a5f8,
     10, false, "facedbaddecaf888",
     "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100000100000000000003736970096379626572636"
     "9"
     "747902646b00000100010001",
     "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642cfbb85a"
     "5"
     "b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a"},
    {"AES-256, SPI 0x4a2cbfe3, sequence 2", 256,
     "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "11223344", 0x4a2cbfe3, 2, false,
     "0102030405060708",
     "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b4010104020102020"
     "1",
     "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99def842d8"
     "e"
     "b335f4eecfdbf831824b4c4915956c96"},
    {"AES-128 zero key, SPI 0, sequence 1", 128, "00000000000000000000000000000000", "00000000", 0x00000000,
     1, false, "0000000000000000",
     "4500003c99c500008001cb7a40679318010101010800075c020044006162636465666768696a6b6c6d6e6f70717273747576776"
     "1"
     "626364656667686901020201",
     "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb64de7d9dca1e1d894bc3bd57"
     "8"
     "73ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d"},
    {"AES-128, SPI 0x42f67e3f, ESN 0x10101010:10101010 (ICMP)", 128, "3de09874b388e6491988d0c3607eae1f",
     "57690e43", 0x42f67e3f, 0x1010101010101010, true, "4e280000a2fca1a3",
     "4500003c99c300008001cb7c40679318010101010800085c020043006162636465666768696a6b6c6d6e6f70717273747576776"
     "1"
     "626364656667686901020201",
     "fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc91755e66"
     "6"
     "2b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48"},
    {"AES-128, SPI 0x42f67e3f, ESN 0x10101010:10101010 (short ICMP)", 128, "3de09874b388e6491988d0c3607eae1f",
     "57690e43", 0x42f67e3f, 0x1010101010101010, true, "4e280000a2fca1a3",
     "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
     "fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35"},
    {"AES-192, SPI 0x0000a5f8, sequence 10", 192, "feffe9928665731c6d6a8f9467308308feffe9928665731c",
     "cafebabe", 0x0000a5f8, 10, false, "facedbaddecaf888",
     "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
     "a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0315b27452144cc7795457b9652037f5318027b5"
     "b"
     "4cd7a636"},
    {"AES-128, SPI 0x00000100, ESN 0:00000001 (UDP)", 128, "abbccddef00112233445566778899aab", "decaf888",
     0x00000100, 1, true, "cafedebaceface74",
     "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d500004e20001e8c18d75b81dc91baa0476b91b92"
     "4"
     "b280389d92c963bac046ec959b6266c04722b14923010101",
     "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472b79da34"
     "5"
     "e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e65f354f75ff17015769623436"},
    {"AES-256, SPI 0x17405e67, ESN 0x156f3126:dd0db99b (TCP)", 256,
     "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "73616c74", 0x17405e67,
     0x156f3126dd0db99b, true, "616e640169766563",
     "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb71260250101f646d540001",
     "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3b7eebca"
     "6"
     "14c89b35"},
    {"AES-128, SPI 0x42f67e3f, ESN 0x10101010:10101010 (UDP)", 128, "3de09874b388e6491988d0c3607eae1f",
     "57690e43", 0x42f67e3f, 0x1010101010101010, true, "4e280000a2fca1a3",
     "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b000001e0001e8c18d65759d52284a0352c71475"
     "c"
     "8880391c764d6e5ee0496b325ae270c03899493915010101",
     "fba2cad12fc1f9f00d3cebf305410db83d7784b607323d220f24b0a97d54182800cadb0f68d99ef0e0c0c89ae9bea8884e52d65"
     "b"
     "c1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5769189609763b8e18caa81e2"},
    {"AES-256, SPI 0x17405e67, ESN 0x156f3126:dd0db99b (text)", 256,
     "abbccddef00112233445566778899aababbccddef00112233445566778899aab", "73616c74", 0x17405e67,
     0x156f3126dd0db99b, true, "616e640169766563",
     "636973636f0172756c657301746865016e6574776501646566696e6501746865746563686e6f6c6f67696573017468617477696"
     "c"
     "6c01646566696e65746f6d6f72726f7701020201",
     "d4b7ed86a1777f2ea13d6973d324c69e7b43f826fb56831226508bebd2dceb18d0a6df10e5487df074113e14c641024e3e6773d"
     "9"
     "1a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b11e24f30e44ccc76"},
    {"AES-128, SPI 0x335467ae, sequence 0xffffffff (empty payload)", 128, "7d773d00c144c525ac619d18c84a3f47",
     "d9664267", 0x335467ae, 0xffffffff, false, "43457e9182443bc6", "01020201",
     "437f866bcb3f699fe9b0822bac961c4504bef270"},
    {"AES-128, SPI 0x00000100, ESN 0:00000001 (no padding)", 128, "abbccddef00112233445566778899aab",
     "decaf888", 0x00000100, 1, true, "cafedebaceface74", "746f016265016f72016e6f7401746f0162650001",
     "29c9fc69a197d038ccdd14e2ddfcaa0543332164412503524303ed3c6c5f283843af8c3e"},
    {"AES-256, SPI 0x796b6963, ESN 0xffffffff:ffffffff (the last sequence number)", 256,
     "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961", "7475726e", 0x796b6963,
     0xffffffffffffffff, true, "333021696765746d",
     "45000030da3a00008001df3bc0a80005c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f70717273740102020"
     "1",
     "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe821dcc63b"
     "9"
     "d0937ba2945f669368661a329fb4c053"},
    {"AES-128, SPI 0x3f7ef642, ESN 0x10101010:10101010", 128, "3de09874b388e6491988d0c3607eae1f", "57690e43",
     0x3f7ef642, 0x1010101010101010, true, "4e280000a2fca1a3",
     "45000030da3a00008001df3bc0a80005c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f70717273740102020"
     "1",
     "fba2caa8c6c5f9f0f22ca54a061210ad3f6e5791cf1aca210d117cec9c35791765acbd8701ad79845bf9fe3fba487bc96321930"
     "6"
     "84eecadb56912546e7a95c9740d7cb05"},
    {"AES-128, SPI 0x00004321, ESN 0x87654321:00000007", 128, "4c80cdefbb5d10da906ac73c3613a634", "22433c64",
     0x00004321, 0x8765432100000007, true, "4855ec7d3a234bfd",
     "0800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
     "74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069ef9cbc28fe1b56a7c4e0d58c86cd2bc0"},
};

}  // namespace

TEST_CASE(
    "ESP KAT: draft-mcgrew-gcm-test-01 AES-GCM ESP packets decapsulate (ICV 16, and truncated to 12 and 8)") {
  // None of the draft's packets uses the sequence number as its IV (RFC
  // 4106 3.1 allows any unique IV), so seal cannot reproduce them: decap
  // only. ENCR_AES_GCM_12 and _8 carry the leftmost 12 or 8 octets of the
  // same tag (RFC 4106 section 6), so each packet also exercises those.
  for (const GcmEspCase& k : kGcmEspCases) {
    const Bytes keymat = cat(from_hex(k.key), from_hex(k.salt));
    const Bytes ct_icv = from_hex(k.ciphertext_and_icv);
    const Payload want = split_trailer(from_hex(k.plaintext));
    REQUIRE(ct_icv.size() == from_hex(k.plaintext).size() + 16);
    const std::pair<EncrId, size_t> variants[] = {
        {EncrId::aes_gcm_16, 16}, {EncrId::aes_gcm_12, 12}, {EncrId::aes_gcm_8, 8}};
    for (const auto& [id, icv_len] : variants) {
      for (const NamedProvider& np : all_providers()) {
        INFO(k.label << " ICV " << icv_len << " provider " << np.name);
        esp::SaConfig c;
        c.spi = k.spi;
        c.encr = id;
        c.encr_key_bits = k.key_bits;
        c.encr_keymat = keymat;
        c.esn = k.esn;
        c.mode = esp::Mode::transport;
        const Bytes packet =
            esp_packet(k.spi, k.seq, from_hex(k.iv),
                       Bytes(ct_icv.begin(), ct_icv.end() - static_cast<std::ptrdiff_t>(16 - icv_len)));
        if (k.spi == 0) {
          // SPI 0 is reserved and never sent (RFC 4303 2.1): no SA takes it.
          // The packet is checked through the crypto API instead, with the
          // AAD and nonce ESP would use.
          CHECK(esp::InboundSa::create(c, *np.provider).error() == Errc::invalid_argument);
          auto aead = np.provider->make_aead(id, k.key_bits, keymat);
          if (!aead && aead.error() == Errc::unsupported_algorithm) continue;
          REQUIRE(aead.ok());
          Bytes body(packet.begin() + 16, packet.end() - static_cast<std::ptrdiff_t>(icv_len));
          const Bytes icv(packet.end() - static_cast<std::ptrdiff_t>(icv_len), packet.end());
          REQUIRE((*aead)->open(from_hex(k.iv), Bytes(packet.begin(), packet.begin() + 8), body, icv).ok());
          CHECK(to_hex(body) == k.plaintext);
          continue;
        }
        auto in = make_in(c, *np.provider);
        if (!in) continue;
        prime_window(*in, k.seq);
        open_transport_kat(*in, packet, k.seq, want);
        // One octet of the ICV off: dropped and counted.
        Bytes bad = packet;
        bad.back() ^= 0x80;
        HostBuffer buf(ipv4_around(bad));
        auto in2 = make_in(c, *np.provider);
        prime_window(*in2, k.seq);
        CHECK(esp::open(*in2, buf.pb).error() == Errc::integrity_check_failed);
        CHECK(in2->counters().auth_failures == 1);
        CHECK(in2->window().top() == (k.seq > 1 ? k.seq - 1 : 0));  // the window did not move
      }
    }
  }
}

TEST_CASE("ESP KAT: with ESN the high-order half is authenticated (draft-mcgrew-gcm-test-01, ESN packets)") {
  // RFC 4106 section 5: the AAD of an ESN SA is SPI | Seqh | Seql; Seqh is
  // never sent. A receiver in the wrong subspace computes another AAD and
  // must drop the packet.
  crypto::MbedtlsProvider provider;
  for (const GcmEspCase& k : kGcmEspCases) {
    if (!k.esn || (k.seq >> 32) == 0) continue;
    INFO(k.label);
    const Bytes keymat = cat(from_hex(k.key), from_hex(k.salt));
    esp::SaConfig c;
    c.spi = k.spi;
    c.encr = EncrId::aes_gcm_16;
    c.encr_key_bits = k.key_bits;
    c.encr_keymat = keymat;
    c.esn = true;
    c.mode = esp::Mode::transport;
    c.esn_resync_threshold = 0;
    auto in = make_in(c, provider);
    REQUIRE(in);
    // The receiver sits one subspace lower: it infers Seqh - 1 (or Seqh).
    (void)in->mutable_window().commit(k.seq - (uint64_t{1} << 32) - 1);
    const Bytes packet = esp_packet(k.spi, k.seq, from_hex(k.iv), from_hex(k.ciphertext_and_icv));
    HostBuffer buf(ipv4_around(packet));
    CHECK(esp::open(*in, buf.pb).error() == Errc::integrity_check_failed);
  }
}

// ---- RFC 3602 section 4, cases 5-8 -----------------------------------------------------------

namespace {

// The packets are SPI | sequence number | IV | ciphertext; RFC 3602 prints
// them without an ICV (its section 4 only tests the cipher). We append an
// HMAC-SHA1-96 ICV (RFC 2404) under our own key over SPI .. ciphertext,
// as RFC 4303 3.3.2 computes it, and check the decrypted payload.
struct CbcEspCase {
  int number;
  const char* key;
  uint32_t spi;
  uint64_t seq;
  const char* payload;  // the RFC's plaintext before the ESP trailer
  uint8_t next_header;
  const char* packet;
};

const CbcEspCase kCbcEspCases[] = {
    {5, "90d382b410eeba7ad938c46cec1a82bf", 0x4321, 1,
     "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829"
     "2a2b2c2d2e2f3031323334353637",
     1,
     "0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849a4870b66cc6b9965330013"
     "b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c538ab50c551b874aa269add047ad2d5913ac19b7cfba"
     "d4a6"},
    {6, "90d382b410eeba7ad938c46cec1a82bf", 0x4321, 8,
     "0800b5e8a80a0500a69c083d0b660e00777777777777777777777777", 1,
     "000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109689bb379d2d750c0d915dc"
     "a346a89f75"},
    {7, "0123456789abcdef0123456789abcdef", 0x8765, 2,
     "45000054090400004001f988c0a87b03c0a87bc808009f76a90a0100b49c083d02a2040008090a0b0c0d0e0f101112131415"
     "161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
     4,
     "0000876500000002f4e765244f6407adf13dc1380f673f37773b5241a4c449225e4f3ce5ed611b0c237ca96cf74a93013c1b0e"
     "a1a0cf70f8e4ecaec78ac53aad7a0f022b859243c647752e94a859352b8a4d4d2decd136e5c177f132ad3fbfb2201ac9904c74"
     "ee0a109e0ca1e4dfe9d5a100b842f1c22f0d"},
    {8, "0123456789abcdef0123456789abcdef", 0x8765, 5,
     "45000044090c00004001f990c0a87b03c0a87bc80800d63caa0a0200c69c083da3de0300ffffffffffffffffffffffffffff"
     "ffffffffffffffffffffffffffffffffffff",
     4,
     "000087650000000585d47224b5f3dd5d2101d4ea8dffab2215b92683819596a8047232cc00f7048fe45318e11f8a0f62ede3c3"
     "fc61203bb50f980a08c9843fd3a1b06d5c07ff9639b7eb7dfb3512e5de435e7207ed971ef3d2726d9b5ef6affc6d17a0decbb1"
     "3892"},
};

const Bytes& cbc_hmac_key() {
  static const Bytes k = test_key(20, 0x5a);
  return k;
}

esp::SaConfig cbc_config(const CbcEspCase& k, const Bytes& key, esp::Mode mode) {
  esp::SaConfig c;
  c.spi = k.spi;
  c.encr = EncrId::aes_cbc;
  c.encr_key_bits = 128;
  c.encr_keymat = key;
  c.integ = IntegId::hmac_sha1_96;
  c.integ_key = cbc_hmac_key();
  c.mode = mode;
  if (mode == esp::Mode::tunnel) c.tunnel = tunnel4();
  return c;
}

// with_icv: the packet followed by its ICV (mbedTLS: libsodium has no HMAC-SHA1).
Bytes with_icv(const Bytes& packet) {
  static crypto::MbedtlsProvider provider;
  auto mac = provider.make_integrity(IntegId::hmac_sha1_96, cbc_hmac_key());
  REQUIRE(mac.ok());
  Bytes icv(12);
  REQUIRE((*mac)->compute(packet, icv).ok());
  return cat(packet, icv);
}

// esp_plaintext: payload | 1, 2, 3, ... | pad length | next header, to the
// 16-octet AES block (RFC 4303 2.4; RFC 3602 prints exactly this).
Bytes esp_plaintext(const Bytes& payload, uint8_t next_header, size_t block) {
  Bytes out = payload;
  const size_t pad = (block - (payload.size() + 2) % block) % block;
  for (size_t i = 1; i <= pad; ++i) out.push_back(static_cast<uint8_t>(i));
  out.push_back(static_cast<uint8_t>(pad));
  out.push_back(next_header);
  return out;
}

}  // namespace

TEST_CASE("ESP KAT: RFC 3602 section 4 cases 5-8 (AES-CBC) decapsulate, with an HMAC-SHA1-96 ICV appended") {
  for (const CbcEspCase& k : kCbcEspCases) {
    for (const NamedProvider& np : all_providers()) {
      INFO("RFC 3602 case " << k.number << " provider " << np.name);
      const Bytes key = from_hex(k.key);
      const Bytes packet = with_icv(from_hex(k.packet));
      const Bytes payload = from_hex(k.payload);
      if (k.next_header == 4) {
        // IPv4 inside: tunnel mode, the ESP part alone and in a datagram.
        auto in = make_in(cbc_config(k, key, esp::Mode::tunnel), *np.provider);
        if (!in) continue;
        HostBuffer buf(packet);
        auto opened = esp::open_esp(*in, buf.pb);
        REQUIRE_MESSAGE(opened.ok(), opened.status().name());
        CHECK(opened->sequence == k.seq);
        CHECK(to_hex(buf.bytes()) == to_hex(payload));
        auto in2 = make_in(cbc_config(k, key, esp::Mode::tunnel), *np.provider);
        HostBuffer whole(ipv4_around(packet));
        auto opened2 = esp::open(*in2, whole.pb);
        REQUIRE_MESSAGE(opened2.ok(), opened2.status().name());
        CHECK(to_hex(whole.bytes()) == to_hex(payload));
      } else {
        auto in = make_in(cbc_config(k, key, esp::Mode::transport), *np.provider);
        if (!in) continue;
        open_transport_kat(*in, packet, k.seq, Payload{payload, k.next_header});
      }
      // Without the ICV the packet does not verify (and is no whole
      // number of blocks plus an ICV either).
      auto in3 = make_in(cbc_config(k, key, esp::Mode::transport), *np.provider);
      HostBuffer no_icv(ipv4_around(from_hex(k.packet)));
      CHECK_FALSE(esp::open(*in3, no_icv.pb).ok());
    }
  }
}

TEST_CASE(
    "ESP KAT: seal with AES-CBC derives the IV as E_K(SPI | sequence | 0) and frames as RFC 3602 case 5") {
  // Seal cannot reproduce RFC 3602's IVs (they were random); it must
  // produce the RFC's plaintext layout (payload, padding 1..n, pad length,
  // next header) under IV = AES_K(SPI | 64-bit sequence number | 0^32), and
  // an ICV over SPI .. ciphertext.
  const CbcEspCase& k = kCbcEspCases[0];
  crypto::MbedtlsProvider provider;
  const Bytes key = from_hex(k.key);
  auto out = esp::OutboundSa::create(cbc_config(k, key, esp::Mode::transport), provider);
  REQUIRE(out.ok());
  (*out)->set_sequence(k.seq - 1);
  const Bytes payload = from_hex(k.payload);
  const Bytes ip = ipv4_around(payload, k.next_header);
  HostBuffer buf(ip);
  auto sealed = esp::seal(**out, buf.pb);
  REQUIRE_MESSAGE(sealed.ok(), sealed.status().name());
  CHECK(sealed->sequence == k.seq);
  CHECK(sealed->esp_offset == 20);
  const Bytes wire = buf.bytes();
  const Bytes esp_part(wire.begin() + 20, wire.end());

  auto cipher = provider.make_cipher(EncrId::aes_cbc, 128, key);
  REQUIRE(cipher.ok());
  Bytes iv = from_hex(
      "00004321"
      "0000000000000001"
      "00000000");
  REQUIRE((*cipher)->encrypt(Bytes(16, 0), iv).ok());  // one block under a zero IV: E_K
  Bytes body = esp_plaintext(payload, k.next_header, 16);
  CHECK(body.size() == from_hex(k.packet).size() - 24);  // the RFC's length
  REQUIRE((*cipher)->encrypt(iv, body).ok());
  const Bytes want = with_icv(esp_packet(k.spi, k.seq, iv, body));
  CHECK(to_hex(esp_part) == to_hex(want));
  // The outer header says ESP now, and its lengths and checksum are right.
  auto h = wire::Ipv4Header::parse(wire);
  REQUIRE(h.ok());
  CHECK(h->protocol == wire::IpProtocol::esp);
  CHECK(h->total_length == wire.size());
  CHECK(h->checksum_valid());
}
