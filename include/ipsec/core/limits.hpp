// SPDX-License-Identifier: Apache-2.0
// Every protocol and resource limit of the library, named once and enforced
// where data enters. Hostile input can never make the library exceed these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ipsec::limits {

// IPv6 extension headers walked before giving up (RFC 8200 section 4.1 puts
// no bound; real packets carry a handful, hostile ones may chain hundreds).
inline constexpr size_t kMaxIpv6ExtensionHeaders = 10;

// Crypto sizes (bytes).
inline constexpr size_t kMaxAeadNonceSize = 12;      // salt + explicit IV (RFC 4106/4309/7634)
inline constexpr size_t kMaxIcvSize = 32;            // HMAC-SHA2-512-256
inline constexpr size_t kMaxIvSize = 16;             // AES-CBC
inline constexpr size_t kMaxHashSize = 64;           // SHA-512
inline constexpr size_t kMaxPrfOutputSize = 64;      // PRF_HMAC_SHA2_512
inline constexpr size_t kMaxKeyExchangeSize = 512;   // MODP-4096 public value
inline constexpr size_t kMaxSharedSecretSize = 512;  // MODP-4096 g^ir
inline constexpr size_t kMaxSignatureSize = 1024;    // RSA-8192
// prf+ produces at most 255 blocks (RFC 7296 section 2.13); its seed is
// given in at most this many parts (Ni | Nr | SPIi | SPIr is four).
inline constexpr size_t kMaxPrfPlusBlocks = 255;
inline constexpr size_t kMaxPrfPlusSeedParts = 8;
// Nonce Data is 16 to 256 octets (RFC 7296 section 3.9).
inline constexpr size_t kMinNonceSize = 16;
inline constexpr size_t kMaxNonceSize = 256;
// Certificates: a DER certificate and a chain a peer may send.
inline constexpr size_t kMaxCertificateSize = 16384;
inline constexpr size_t kMaxCertificateChainLength = 8;
// Private key files (PEM or DER) the host may load.
inline constexpr size_t kMaxPrivateKeyFileSize = 16384;

// ESP/AH datapath.
// Anti-replay window sizes (RFC 4303 3.4.3: 32 MUST, 64 SHOULD be the
// default; larger windows absorb the reordering of multi-queue paths).
inline constexpr uint32_t kDefaultReplayWindow = 64;
inline constexpr uint32_t kMaxReplayWindow = 4096;
// ESN re-synchronisation (RFC 4303 A3) retries its candidates on a copy of
// the packet kept on the stack, so only packets up to this size are picked.
inline constexpr size_t kMaxEsnResyncPacket = 2048;
// Headroom seal() needs in front of the inner packet: outer IPv6 header
// (40) + UDP (8) + ESP header (8) + IV (16) = 72 for ESP, outer IPv6 (40) +
// AH with HMAC-SHA2-512-256 padded to 64 bits (48) = 88 for AH, rounded up;
// tailroom it needs behind: padding (up to 255) + pad length + next header +
// ICV (32).
inline constexpr size_t kEspMaxHeadroom = 96;
inline constexpr size_t kEspMaxTailroom = 256 + 2 + 32;

}  // namespace ipsec::limits
