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
// kMaxCertificatePemSize: the PEM text Certificate::parse_pem takes: the
// base64 of kMaxCertificateSize octets with its lines and armour, and room
// for the text dump openssl puts before it.
inline constexpr size_t kMaxCertificatePemSize = 65536;

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

// IKEv2 messages (wire/ike_message.hpp). The parser allocates nothing; these
// bound the work a hostile message can cause and the sizes later stages copy.
// ParseLimits starts from them and may only lower them.
// Payloads per message, outer and inner together (the parse keeps their
// views in a fixed array of this size). A strongSwan IKE_AUTH carries about
// a dozen; a certificate chain adds one per certificate.
inline constexpr size_t kMaxIkePayloads = 64;
// A whole message: UDP cannot carry more, RFC 8229 frames 16-bit lengths.
inline constexpr size_t kMaxIkeMessageSize = 65535;
// SA payload: proposals (numbered 1..255, RFC 7296 3.3.1), transforms per
// proposal (a "propose everything" initiator sends a few dozen) and
// attributes per transform (only Key Length is defined, 3.3.5).
inline constexpr size_t kMaxProposals = 64;
inline constexpr size_t kMaxTransformsPerProposal = 128;
inline constexpr size_t kMaxTransformAttributes = 8;
// Traffic selectors per TS payload (the count field allows 255).
inline constexpr size_t kMaxTrafficSelectors = 64;
// Configuration attributes per CP payload.
inline constexpr size_t kMaxConfigAttributes = 128;
// SPIs per Delete payload (the count field allows 65535).
inline constexpr size_t kMaxDeleteSpis = 4096;
// COOKIE notification data (RFC 7296 2.6: 1 to 64 octets).
inline constexpr size_t kMaxCookieSize = 64;
// IKE fragmentation (RFC 7383 2.6): fragments per message, bytes of one
// reassembled message, and messages reassembled at once per IKE SA (the
// peer's window: requests and responses in flight).
inline constexpr size_t kMaxIkeFragments = 64;
inline constexpr size_t kMaxReassembledSize = 65535;
inline constexpr size_t kMaxPendingReassemblies = 4;

// Peer Authorization Database (sa/pad.hpp).
// Entries in one PAD. Lookup is a first-match linear scan (as RFC 4301
// 4.4.3.1 orders it), so this bounds the work one IKE_AUTH can cause; large
// populations are written as group patterns ("@example.com", ".example.com")
// with per-peer certificates, not one entry each.
inline constexpr size_t kMaxPadEntries = 1024;
// Child SA traffic selectors one entry may authorize (as many as one TS
// payload may carry, kMaxTrafficSelectors).
inline constexpr size_t kMaxPadChildSelectors = 64;
// Trust anchors (the host's CA ids) one entry may name.
inline constexpr size_t kMaxPadTrustAnchors = 16;
// Bytes of an IdPattern's name, DN or key ID, and of a pre-shared key. A DER
// DN of a dozen attributes fits in a few hundred octets.
inline constexpr size_t kMaxIdPatternSize = 1024;
inline constexpr size_t kMaxPskSize = 1024;

}  // namespace ipsec::limits
