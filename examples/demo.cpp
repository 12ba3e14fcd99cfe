// SPDX-License-Identifier: Apache-2.0
// demo: both ends of one IKE SA and one ESP tunnel, in one process.
//
// Two gateways ("initiator" and "responder") do what IKEv2 and ESP do, on the
// public API only: a Curve25519 key exchange, SKEYSEED and the IKE SA keys
// (RFC 7296 2.13-2.14), an Ed25519 signature over the initiator's signed
// octets (RFC 8420), child SA keys from SK_d (2.17), then ESP tunnel-mode
// SAs (AES-256-GCM, ESN, UDP encapsulation on port 4500) carrying a
// thousand packets each way in place in host buffers, with a tampered and a
// replayed packet dropped. No key is printed.
//
// The IKEv2 engine is a later issue; when it lands this demo becomes two
// peers negotiating over an in-memory link.
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

// udp_packet: an IPv4 UDP datagram of `size` octets in all, as a host reads
// it from its TUN device (checksum valid; UDP checksum 0, allowed over IPv4).
std::vector<uint8_t> udp_packet(const IpAddress& src, const IpAddress& dst, size_t size, uint8_t fill) {
  std::vector<uint8_t> p(size, fill);
  ByteWriter w(p);
  w.put_u8(0x45);
  w.put_u8(0);
  w.put_u16(static_cast<uint16_t>(size));
  w.put_u32(0x00004000);  // id 0, DF
  w.put_u8(64);
  w.put_u8(17);
  const auto checksum = w.reserve_u16();
  w.put_bytes(src.bytes());
  w.put_bytes(dst.bytes());
  w.patch(checksum, wire::internet_checksum(w.written()));
  w.put_u16(40000);
  w.put_u16(9);
  w.put_u16(static_cast<uint16_t>(size - 20));
  w.put_u16(0);
  return p;
}

}  // namespace

int main() {
  DefaultProvider provider;
  SystemRng rng;
  std::printf("ipsec demo: both ends of one IKE SA and one ESP tunnel, in one process\n\n");

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
  // Tunnel mode between two gateways, ESP in UDP on port 4500 (RFC 3948).
  // The initiator-to-responder SA takes the first half of KEYMAT.
  const IpAddress gw_i = *IpAddress::parse("192.0.2.1"), gw_r = *IpAddress::parse("198.51.100.2");
  auto sa_config = [&](uint32_t spi, const IpAddress& local, const IpAddress& remote, ByteView child_key) {
    esp::SaConfig c;
    c.spi = spi;
    c.mode = esp::Mode::tunnel;
    c.encr = EncrId::aes_gcm_16;
    c.encr_key_bits = 256;
    c.encr_keymat = child_key;
    c.esn = true;
    c.tunnel = esp::TunnelConfig{local, remote};
    c.udp = esp::UdpEncapsulation{4500, 4500};
    return c;
  };
  auto out_i =
      take(esp::OutboundSa::create(sa_config(0xc0ffee01, gw_i, gw_r, km_i.view().first(keymat)), provider),
           "SA i->r");
  auto in_r =
      take(esp::InboundSa::create(sa_config(0xc0ffee01, gw_r, gw_i, km_r.view().first(keymat)), provider),
           "SA i->r");
  auto out_r =
      take(esp::OutboundSa::create(sa_config(0xc0ffee02, gw_r, gw_i, km_r.view().last(keymat)), provider),
           "SA r->i");
  auto in_i =
      take(esp::InboundSa::create(sa_config(0xc0ffee02, gw_i, gw_r, km_i.view().last(keymat)), provider),
           "SA r->i");

  constexpr size_t kPackets = 1000, kPacketSize = 1400;
  constexpr size_t kHeadroom = limits::kEspMaxHeadroom, kTailroom = limits::kEspMaxTailroom;
  const IpAddress host_a = *IpAddress::parse("10.1.1.1"), host_b = *IpAddress::parse("10.2.2.2");
  std::vector<uint8_t> storage(kHeadroom + kPacketSize + kTailroom);
  std::vector<uint8_t> captured;  // the last packet as it crossed the wire, for the replay check
  size_t bytes = 0, wire_bytes = 0;
  t0 = Clock::now();
  for (size_t n = 0; n < kPackets; ++n) {
    for (int direction = 0; direction < 2; ++direction) {
      esp::OutboundSa& sender = direction == 0 ? *out_i : *out_r;
      esp::InboundSa& receiver = direction == 0 ? *in_r : *in_i;
      const auto packet = direction == 0 ? udp_packet(host_a, host_b, kPacketSize, static_cast<uint8_t>(n))
                                         : udp_packet(host_b, host_a, kPacketSize, static_cast<uint8_t>(n));
      std::copy(packet.begin(), packet.end(), storage.begin() + kHeadroom);
      PacketBuffer pb = take(PacketBuffer::over(storage, kHeadroom, kPacketSize), "packet buffer");
      const esp::SealInfo sealed = take(esp::seal(sender, pb), "seal");
      wire_bytes += pb.size();
      if (n == kPackets - 1 && direction == 0) captured.assign(pb.data().begin(), pb.data().end());
      // The receiving host reads the UDP payload (the ESP packet) from its socket.
      (void)pb.pull(sealed.esp_offset);
      take(esp::open_esp(receiver, pb), "open");
      if (!equal_bytes(pb.data(), packet)) fail("round trip", Errc::integrity_check_failed);
      bytes += kPacketSize;
    }
  }
  const double esp_us = micros_since(t0);
  // A packet altered in flight is rejected and its plaintext never released;
  // one replayed from the wire is dropped.
  const auto fresh = udp_packet(host_a, host_b, kPacketSize, 0xaa);
  std::copy(fresh.begin(), fresh.end(), storage.begin() + kHeadroom);
  PacketBuffer pb = take(PacketBuffer::over(storage, kHeadroom, kPacketSize), "packet buffer");
  take(esp::seal(*out_i, pb), "seal");
  pb.data()[pb.size() / 2] ^= 0x01;
  const Status tampered = esp::open(*in_r, pb).status();
  std::copy(captured.begin(), captured.end(), storage.begin() + kHeadroom);
  pb = take(PacketBuffer::over(storage, kHeadroom, captured.size()), "packet buffer");
  const Status replayed = esp::open(*in_r, pb).status();
  std::snprintf(text, sizeof text, "ESP-in-UDP tunnel, ESN: %zu x %zu-byte packets each way", kPackets,
                kPacketSize);
  row("4. ESP traffic", "ENCR_AES_GCM_16 256", text, esp_us);
  std::printf("%-16s %-22s %.2f Gbit/s, %.0f ns per packet (%s), %zu bytes on the wire\n", "", "",
              static_cast<double>(bytes) * 8 / (esp_us * 1000), esp_us * 1000 / (2 * kPackets),
              out_i->transforms().aead->backend(), wire_bytes);
  std::printf("%-16s %-22s a flipped bit in flight: %s; a replayed packet: %s\n", "", "",
              tampered.name().data(), replayed.name().data());
  std::printf("%-16s %-22s responder counters: %llu packets, %llu bytes, %llu auth failures, %llu replays\n",
              "", "", static_cast<unsigned long long>(in_r->counters().packets),
              static_cast<unsigned long long>(in_r->counters().bytes),
              static_cast<unsigned long long>(in_r->counters().auth_failures),
              static_cast<unsigned long long>(in_r->counters().replay_drops));
  if (tampered != Errc::integrity_check_failed || replayed != Errc::replayed) return 1;
  if (forged != Errc::bad_signature) return 1;
  std::printf("\nall checks passed\n");
  return 0;
}
