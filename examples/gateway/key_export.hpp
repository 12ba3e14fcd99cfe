// SPDX-License-Identifier: Apache-2.0
// Key export for Wireshark (only when the configuration asks for it: these
// files hold live keys). Two UAT tables, one row per line, in the format
// Wireshark reads from its profile directory (and tshark from
// `-o "uat:NAME:ROW"`):
//   esp_sa                  "IPv4","SRC","DST","0xSPI","ENCR","0xKEY","AUTH","0xKEY"
//   ikev2_decryption_table  SPIi,SPIr,SK_ei,SK_er,"ENCR",SK_ai,SK_ar,"INTEG"
// The algorithm names are Wireshark's (tshark 4.0). A transform Wireshark
// cannot decrypt (ChaCha20-Poly1305, AES-CCM, ...) gets a comment line
// instead, so the file still says which SA it was.
#pragma once

#include <ipsec/ipsec.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/host.hpp"

namespace gateway {

// esp_encr_name: Wireshark's ESP encryption name (the key includes the salt
// or nonce: RFC 4106 5, RFC 3686 5.1).
inline std::optional<std::string> esp_encr_name(ipsec::crypto::EncrId id) {
  using ipsec::crypto::EncrId;
  switch (id) {
    case EncrId::null: return "NULL";
    case EncrId::aes_cbc: return "AES-CBC [RFC3602]";
    case EncrId::aes_ctr: return "AES-CTR [RFC3686]";
    case EncrId::des3: return "TripleDES-CBC [RFC2451]";
    case EncrId::aes_gcm_8: return "AES-GCM with 8 octet ICV [RFC4106]";
    case EncrId::aes_gcm_12: return "AES-GCM with 12 octet ICV [RFC4106]";
    case EncrId::aes_gcm_16: return "AES-GCM with 16 octet ICV [RFC4106]";
    default: return std::nullopt;
  }
}
inline std::optional<std::string> esp_auth_name(ipsec::crypto::IntegId id) {
  using ipsec::crypto::IntegId;
  switch (id) {
    case IntegId::none: return "NULL";
    case IntegId::hmac_md5_96: return "HMAC-MD5-96 [RFC2403]";
    case IntegId::hmac_sha1_96: return "HMAC-SHA-1-96 [RFC2404]";
    case IntegId::hmac_sha2_256_128: return "HMAC-SHA-256-128 [RFC4868]";
    case IntegId::hmac_sha2_384_192: return "HMAC-SHA-384-192 [RFC4868]";
    case IntegId::hmac_sha2_512_256: return "HMAC-SHA-512-256 [RFC4868]";
    default: return std::nullopt;
  }
}
// IKEv2 names carry the key size.
inline std::optional<std::string> ike_encr_name(ipsec::crypto::EncrId id, uint16_t bits) {
  using ipsec::crypto::EncrId;
  const std::string b = std::to_string(bits);
  const bool aes_bits = bits == 128 || bits == 192 || bits == 256;
  switch (id) {
    case EncrId::null: return "NULL [RFC2410]";
    case EncrId::des3: return "3DES [RFC2451]";
    case EncrId::aes_cbc:
      if (aes_bits) return "AES-CBC-" + b + " [RFC3602]";
      break;
    case EncrId::aes_ctr:
      if (aes_bits) return "AES-CTR-" + b + " [RFC5930]";
      break;
    case EncrId::aes_gcm_8:
    case EncrId::aes_gcm_12:
    case EncrId::aes_gcm_16:
      if (aes_bits) {
        const char* icv = id == EncrId::aes_gcm_8 ? "8" : id == EncrId::aes_gcm_12 ? "12" : "16";
        return "AES-GCM-" + b + " with " + icv + " octet ICV [RFC5282]";
      }
      break;
    default: break;
  }
  return std::nullopt;
}
inline std::optional<std::string> ike_integ_name(ipsec::crypto::IntegId id) {
  using ipsec::crypto::IntegId;
  switch (id) {
    case IntegId::none: return "NONE [RFC4306]";
    case IntegId::hmac_md5_96: return "HMAC_MD5_96 [RFC2403]";
    case IntegId::hmac_sha1_96: return "HMAC_SHA1_96 [RFC2404]";
    case IntegId::hmac_sha2_256_128: return "HMAC_SHA2_256_128 [RFC4868]";
    case IntegId::hmac_sha2_384_192: return "HMAC_SHA2_384_192 [RFC4868]";
    case IntegId::hmac_sha2_512_256: return "HMAC_SHA2_512_256 [RFC4868]";
    default: return std::nullopt;
  }
}

// esp_sa_row: the esp_sa line of one direction of a child SA (packets from
// `source` to `destination` with `spi`), or a "#" comment line.
inline std::string esp_sa_row(const ipsec::IpAddress& source, const ipsec::IpAddress& destination,
                              uint32_t spi, ipsec::crypto::EncrId encr, ipsec::ByteView encr_keymat,
                              ipsec::crypto::IntegId integ, ipsec::ByteView integ_key) {
  const std::string src = host::str(source.to_text().view()), dst = host::str(destination.to_text().view());
  const auto e = esp_encr_name(encr);
  const auto a = esp_auth_name(integ);
  if (!e || !a) {
    return "# " + src + " -> " + dst + " SPI " + host::hex(spi) + ": " +
           host::str(ipsec::crypto::to_string(encr)) + "/" + host::str(ipsec::crypto::to_string(integ)) +
           " is not in Wireshark's ESP table";
  }
  return std::string("\"") + (source.is_v4() ? "IPv4" : "IPv6") + "\",\"" + src + "\",\"" + dst + "\",\"" +
         host::hex(spi) + "\",\"" + *e + "\",\"0x" + host::hex_bytes(encr_keymat) + "\",\"" + *a + "\",\"" +
         (integ_key.empty() ? std::string() : "0x" + host::hex_bytes(integ_key)) + "\"";
}

// ikev2_row: the ikev2_decryption_table line of an IKE SA, or a comment.
inline std::string ikev2_row(const ipsec::ike::IkeKeys& k) {
  const auto e = ike_encr_name(k.encr, k.encr_key_bits);
  const auto i = ike_integ_name(k.integ);
  if (!e || !i) {
    return "# IKE SA " + host::hex(k.spi_i) + "_i " + host::hex(k.spi_r) +
           "_r: " + host::str(ipsec::crypto::to_string(k.encr)) + "/" +
           host::str(ipsec::crypto::to_string(k.integ)) + " is not in Wireshark's IKEv2 table";
  }
  return host::hex(k.spi_i) + "," + host::hex(k.spi_r) + "," + host::hex_bytes(k.sk_ei) + "," +
         host::hex_bytes(k.sk_er) + ",\"" + *e + "\"," + host::hex_bytes(k.sk_ai) + "," +
         host::hex_bytes(k.sk_ar) + ",\"" + *i + "\"";
}

// KeyExport: appends rows to DIR/esp_sa and DIR/ikev2_decryption_table
// (created with mode 0600), flushed per row so a capture can be read while
// the gateway runs.
class KeyExport {
 public:
  KeyExport() = default;
  KeyExport(const KeyExport&) = delete;
  KeyExport& operator=(const KeyExport&) = delete;
  ~KeyExport() {
    // Every row was flushed when written (write()); a close error has no one left to tell.
    if (esp_ != nullptr) (void)std::fclose(esp_);
    if (ike_ != nullptr) (void)std::fclose(ike_);
  }
  // open: empty on success, else what failed.
  std::string open(const std::string& dir) {
    esp_ = open_private(dir + "/esp_sa");
    ike_ = open_private(dir + "/ikev2_decryption_table");
    if (esp_ == nullptr || ike_ == nullptr)
      return "cannot write key files in " + dir + ": " + std::strerror(errno);
    return {};
  }
  [[nodiscard]] bool enabled() const noexcept { return esp_ != nullptr; }
  void esp(const std::string& row) { write(esp_, row); }
  void ike(const std::string& row) { write(ike_, row); }

 private:
  static FILE* open_private(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    return fd < 0 ? nullptr : fdopen(fd, "a");
  }
  static void write(FILE* f, const std::string& row) {
    if (f == nullptr) return;
    std::fprintf(f, "%s\n", row.c_str());
    std::fflush(f);
  }
  FILE* esp_ = nullptr;
  FILE* ike_ = nullptr;
};

}  // namespace gateway
