// SPDX-License-Identifier: Apache-2.0
// demo: the foundation of an IKEv2/ESP tunnel, end to end, in one process.
//
// Two parties ("initiator" and "responder") do what IKEv2 and ESP do with
// the crypto layer, on public API only: a Curve25519 key exchange, SKEYSEED
// and the seven IKE SA keys (RFC 7296 2.13-2.14), an Ed25519 signature over
// the initiator's signed octets (RFC 8420), then child SA keys from SK_d and
// a thousand packets each way sealed and opened in place with AES-256-GCM in
// the RFC 4303/4106 framing (SPI | sequence | IV | payload | ICV) inside a
// packet buffer with headroom and tailroom. No key is printed.
//
// The IKEv2 engine and the ESP module are later issues; when they land this
// demo becomes two peers negotiating over an in-memory link.
#include <ipsec/ipsec.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

using namespace ipsec;
using namespace ipsec::crypto;

namespace {

using Clock = std::chrono::steady_clock;

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

[[noreturn]] void fail(const char* what, Status s) {
  std::fprintf(stderr, "demo: %s failed: %.*s\n", what, static_cast<int>(s.name().size()), s.name().data());
  std::exit(1);
}

template <typename T>
T take(Result<T> r, const char* what) {
  if (!r) fail(what, r.status());
  return std::move(r).value();
}

// row: one line of the report: step, algorithm, what happened, how long.
void row(const char* step, std::string_view algorithm, const char* what, double micros) {
  std::printf("%-16s %-22.*s %-60s %9.1f us\n", step, static_cast<int>(algorithm.size()), algorithm.data(),
              what, micros);
}

void check(Status s, const char* what) {
  if (!s.ok()) fail(what, s);
}

// The seven IKE SA keys for an AEAD suite (RFC 7296 2.14: SK_ai/ar are empty
// with combined-mode ciphers).
struct IkeKeys {
  SecretBytes d, ei, er, pi, pr;
};

IkeKeys derive_ike_keys(Provider& provider, PrfId prf_id, ByteView ni, ByteView nr, ByteView shared,
                        ByteView spi_i, ByteView spi_r, size_t encr_keymat) {
  SecretBytes seed = take(skeyseed(provider, prf_id, ni, nr, shared), "SKEYSEED");
  auto prf = take(provider.make_prf(prf_id, seed.view()), "prf");
  const size_t prf_len = prf->output_size();
  SecretBytes all = take(SecretBytes::allocate(prf_len * 3 + encr_keymat * 2), "allocate");
  // {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
  const ByteView parts[] = {ni, nr, spi_i, spi_r};
  check(prf_plus(*prf, parts, all.mutable_view()), "prf+");
  const ByteView v = all.view();
  IkeKeys k;
  size_t at = 0;
  auto next = [&](size_t n) {
    auto s = take(SecretBytes::copy_of(v.subspan(at, n)), "copy");
    at += n;
    return s;
  };
  k.d = next(prf_len);
  k.ei = next(encr_keymat);
  k.er = next(encr_keymat);
  k.pi = next(prf_len);
  k.pr = next(prf_len);
  return k;
}

// seal_packet: ESP-style framing around the packet already in `pb`:
// push SPI | seq | IV, put ICV, encrypt the payload in place.
Status seal_packet(Aead& aead, uint32_t spi, uint64_t seq, PacketBuffer& pb) {
  const size_t payload = pb.size();
  auto header = pb.push(16);
  if (!header) return header.status();
  ByteWriter w(*header);
  w.put_u32(spi);
  w.put_u32(static_cast<uint32_t>(seq));
  w.put_u64(seq);  // RFC 4106 3.1: the IV may be the sequence number
  auto icv = pb.put(aead.icv_size());
  if (!icv) return icv.status();
  const MutableByteView all = pb.data();
  return aead.seal(all.subspan(8, 8), all.first(8), all.subspan(16, payload), *icv);
}

Status open_packet(Aead& aead, PacketBuffer& pb) {
  const MutableByteView all = pb.data();
  if (all.size() < 16 + aead.icv_size()) return Errc::truncated;
  const size_t payload = all.size() - 16 - aead.icv_size();
  IPSEC_TRY(aead.open(all.subspan(8, 8), all.first(8), all.subspan(16, payload), all.last(aead.icv_size())));
  if (auto h = pb.pull(16); !h) return h.status();
  if (auto t = pb.trim(aead.icv_size()); !t) return t.status();
  return Status::success();
}

}  // namespace

int main() {
  DefaultProvider provider;
  SystemRng rng;
  std::printf("ipsec demo: the crypto layer of one IKE SA and one ESP SA, both ends in one process\n\n");

  // 1. Key exchange (IKE_SA_INIT: KEi, KEr).
  auto t0 = Clock::now();
  auto ke_i = take(provider.make_key_exchange(KeGroup::curve25519, rng), "KEi");
  auto ke_r = take(provider.make_key_exchange(KeGroup::curve25519, rng), "KEr");
  SecretBytes g_ir_i = take(ke_i->shared_secret(ke_r->public_value()), "g^ir (initiator)");
  SecretBytes g_ir_r = take(ke_r->shared_secret(ke_i->public_value()), "g^ir (responder)");
  const double ke_us = micros_since(t0);
  if (!ct_equal(g_ir_i.view(), g_ir_r.view())) fail("key agreement", Errc::integrity_check_failed);
  char text[128];
  std::snprintf(text, sizeof text, "KEi, KEr; both sides computed the same %zu-byte g^ir", g_ir_i.size());
  row("1. key exchange", to_string(KeGroup::curve25519), text, ke_us);

  // 2. SKEYSEED and the IKE SA keys (RFC 7296 2.14).
  std::array<uint8_t, 32> ni{}, nr{};
  std::array<uint8_t, 8> spi_i{}, spi_r{};
  rng.fill(ni);
  rng.fill(nr);
  rng.fill(spi_i);
  rng.fill(spi_r);
  t0 = Clock::now();
  const auto encr = *encr_info(EncrId::aes_gcm_16);
  const size_t keymat = encr.keymat_size(256);
  IkeKeys keys_i =
      derive_ike_keys(provider, PrfId::hmac_sha2_256, ni, nr, g_ir_i.view(), spi_i, spi_r, keymat);
  IkeKeys keys_r =
      derive_ike_keys(provider, PrfId::hmac_sha2_256, ni, nr, g_ir_r.view(), spi_i, spi_r, keymat);
  const double kd_us = micros_since(t0) / 2;
  if (!ct_equal(keys_i.ei.view(), keys_r.ei.view()) || !ct_equal(keys_i.d.view(), keys_r.d.view())) {
    fail("IKE key derivation", Errc::integrity_check_failed);
  }
  std::snprintf(text, sizeof text, "SKEYSEED, prf+: SK_d %zu, SK_e %zu+%zu, SK_p %zu+%zu bytes, equal",
                keys_i.d.size(), keys_i.ei.size(), keys_i.er.size(), keys_i.pi.size(), keys_i.pr.size());
  row("2. IKE SA keys", to_string(PrfId::hmac_sha2_256), text, kd_us);

  // 3. AUTH: the initiator signs its octets (RFC 7296 2.15), the responder verifies.
  t0 = Clock::now();
  PrivateKey key = take(PrivateKey::generate(KeyType::ed25519, rng), "Ed25519 key");
  PublicKey pub = take(key.public_key(), "public key");
  std::vector<uint8_t> octets(ni.begin(),
                              ni.end());  // stands for RealMessage1 | NonceRData | prf(SK_pi, IDi')
  octets.insert(octets.end(), nr.begin(), nr.end());
  std::array<uint8_t, 64> sig{};
  const size_t sig_len = take(key.sign(SignatureScheme::ed25519, octets, rng, sig), "sign");
  check(pub.verify(SignatureScheme::ed25519, octets, ByteView(sig).first(sig_len)), "verify");
  octets[0] ^= 1;
  const Status forged = pub.verify(SignatureScheme::ed25519, octets, ByteView(sig).first(sig_len));
  std::snprintf(text, sizeof text, "key, %zu-byte signature verifies; altered octets: %s", sig_len,
                forged.name().data());
  row("3. AUTH", "Ed25519", text, micros_since(t0));

  // 4. Child SA keys from SK_d (RFC 7296 2.17) and ESP traffic both ways.
  auto child_keys = [&](const IkeKeys& k) {
    auto prf = take(provider.make_prf(PrfId::hmac_sha2_256, k.d.view()), "prf(SK_d)");
    SecretBytes km = take(SecretBytes::allocate(2 * keymat), "KEYMAT");
    const ByteView parts[] = {ni, nr};
    check(prf_plus(*prf, parts, km.mutable_view()), "KEYMAT");
    return km;
  };
  SecretBytes km_i = child_keys(keys_i), km_r = child_keys(keys_r);
  // The initiator's outbound SA uses the first half of KEYMAT, the responder's the second.
  auto out_i = take(provider.make_aead(EncrId::aes_gcm_16, 256, km_i.view().first(keymat)), "SA i->r");
  auto in_r = take(provider.make_aead(EncrId::aes_gcm_16, 256, km_r.view().first(keymat)), "SA i->r");
  auto out_r = take(provider.make_aead(EncrId::aes_gcm_16, 256, km_r.view().last(keymat)), "SA r->i");
  auto in_i = take(provider.make_aead(EncrId::aes_gcm_16, 256, km_i.view().last(keymat)), "SA r->i");

  constexpr size_t kPackets = 1000, kPayload = 1400, kHeadroom = 64, kTailroom = 64;
  std::vector<uint8_t> storage(kHeadroom + kPayload + kTailroom);
  size_t bytes = 0;
  t0 = Clock::now();
  for (uint64_t seq = 1; seq <= kPackets; ++seq) {
    for (int direction = 0; direction < 2; ++direction) {
      Aead& sender = direction == 0 ? *out_i : *out_r;
      Aead& receiver = direction == 0 ? *in_r : *in_i;
      for (size_t i = 0; i < kPayload; ++i) storage[kHeadroom + i] = static_cast<uint8_t>(i + seq);
      PacketBuffer pb = take(PacketBuffer::over(storage, kHeadroom, kPayload), "packet buffer");
      check(seal_packet(sender, direction == 0 ? 0xc0ffee01 : 0xc0ffee02, seq, pb), "seal");
      check(open_packet(receiver, pb), "open");
      if (pb.size() != kPayload || pb.data()[7] != static_cast<uint8_t>(7 + seq)) {
        fail("round trip", Errc::integrity_check_failed);
      }
      bytes += kPayload;
    }
  }
  const double esp_us = micros_since(t0);
  // A packet altered in flight is rejected and its plaintext never released.
  PacketBuffer pb = take(PacketBuffer::over(storage, kHeadroom, kPayload), "packet buffer");
  check(seal_packet(*out_i, 0xc0ffee01, kPackets + 1, pb), "seal");
  pb.data()[40] ^= 0x01;
  const Status tampered = open_packet(*in_r, pb);
  std::snprintf(text, sizeof text, "%zu x %zu bytes each way sealed and opened in place", kPackets, kPayload);
  row("4. ESP traffic", "ENCR_AES_GCM_16 256", text, esp_us);
  std::printf("%-16s %-22s %.2f Gbit/s, %.0f ns per packet (%s); a flipped bit in flight: %s\n", "", "",
              static_cast<double>(bytes) * 8 / (esp_us * 1000), esp_us * 1000 / (2 * kPackets),
              out_i->backend(), tampered.name().data());
  if (tampered != Errc::integrity_check_failed || forged != Errc::bad_signature) return 1;
  std::printf("\nall checks passed\n");
  return 0;
}
