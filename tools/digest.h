/*
 * digest.h - SHA-256 and SHA-1 message digests, streaming, for verifying
 * downloaded traces against pinned hashes (tools/trace_fetch.c).
 *
 * Both follow FIPS 180-4, "Secure Hash Standard", NIST, August 2015
 * (SHA-1: section 6.1, SHA-256: section 6.2; padding: section 5.1.1).
 * SHA-1 is here only to check git blob ids, which a pinned repository
 * commit names for every file (`git hash-object`: SHA-1 of
 * "blob <size>\0" followed by the content); a file known by its SHA-256
 * is checked with SHA-256.
 *
 * No allocation; a context is a plain struct. Digests are written as
 * lowercase hexadecimal by digest_hex().
 */
#ifndef MEMFAB_TOOLS_DIGEST_H
#define MEMFAB_TOOLS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;          /* message length so far */
    unsigned char buf[64];   /* a partial block */
    size_t nbuf;
} sha256_ctx;

typedef struct sha1_ctx {
    uint32_t h[5];
    uint64_t bytes;
    unsigned char buf[64];
    size_t nbuf;
} sha1_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, unsigned char out[32]);

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *data, size_t n);
void sha1_final(sha1_ctx *c, unsigned char out[20]);

/* Write n bytes as 2n lowercase hex digits and a NUL into out (2n+1 bytes). */
void digest_hex(const unsigned char *d, size_t n, char *out);

#endif
