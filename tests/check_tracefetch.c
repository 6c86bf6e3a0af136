/*
 * check_tracefetch.c - `memfab trace fetch`: the digests it verifies with
 * (FIPS 180-4 test vectors), the catalog's integrity, and downloads from a
 * local file:// mirror into a cache directory (exact copy, refusal of a
 * corrupted or missing file with nothing installed, no download again when
 * a verified copy is cached, scenarios finding the cached trace).
 *
 * The mirror tests that need the real traces read them from the first
 * directory of MEMFAB_TRACE_PATH holding them and skip (saying so) when
 * none does.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/workload/trace_catalog.h"
#include "tests/check_main.h"
#include "tests/tools_fixture.h"
#include "tools/digest.h"

static void sha256_hex(const void *data, size_t n, char out[65])
{
    sha256_ctx c;
    unsigned char d[32];
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, d);
    digest_hex(d, 32, out);
}

static void sha1_hex(const void *data, size_t n, char out[41])
{
    sha1_ctx c;
    unsigned char d[20];
    sha1_init(&c);
    sha1_update(&c, data, n);
    sha1_final(&c, d);
    digest_hex(d, 20, out);
}

/* FIPS 180-4 examples (NIST CSRC "Example Algorithms": SHA-1 and SHA-256
 * one-block, two-block and long messages). */
START_TEST(sha256_fips_vectors)
{
    char h[65];
    sha256_hex("", 0, h);
    ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two, strlen(two), h);
    ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces: streaming equals one shot */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    sha256_ctx c;
    unsigned char d[32];
    sha256_init(&c);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step % 131 + 7)
        sha256_update(&c, a + off, off + step <= sizeof a ? step : sizeof a - off);
    sha256_final(&c, d);
    digest_hex(d, 32, h);
    ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* lengths around the padding boundary (55, 56, 63, 64 bytes) agree
     * between one update and byte-at-a-time updates */
    for (size_t n = 54; n <= 66; n++) {
        char one[65], bytewise[65];
        sha256_hex(a, n, one);
        sha256_init(&c);
        for (size_t i = 0; i < n; i++)
            sha256_update(&c, a + i, 1);
        sha256_final(&c, d);
        digest_hex(d, 32, bytewise);
        ck_assert_str_eq(one, bytewise);
    }
}
END_TEST

START_TEST(sha1_fips_vectors_and_git_blob_ids)
{
    char h[41];
    sha1_hex("", 0, h);
    ck_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    sha1_hex("abc", 3, h);
    ck_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1_hex(two, strlen(two), h);
    ck_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* git's id of the empty blob (`git hash-object /dev/null`), and of
     * "hello\n" (`echo hello | git hash-object --stdin`) */
    sha1_hex("blob 0", 7, h);
    ck_assert_str_eq(h, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    sha1_hex("blob 6\0hello\n", 13, h);
    ck_assert_str_eq(h, "ce013625030ba8dba906f756967f9e9ca394464a");
}
END_TEST

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

START_TEST(catalog_entries_are_complete_and_pinned)
{
    size_t n;
    const trace_catalog_entry *c = trace_catalog(&n);
    ck_assert_uint_ge(n, 9);
    for (size_t i = 0; i < n; i++) {
        const trace_catalog_entry *e = &c[i];
        ck_assert_ptr_nonnull(e->name);
        ck_assert_ptr_nonnull(e->license);
        ck_assert_ptr_nonnull(e->cite);
        ck_assert_ptr_nonnull(e->format);
        ck_assert_msg(strncmp(e->url, "https://", 8) == 0, "%s: %s", e->name, e->url);
        ck_assert_ptr_eq(trace_catalog_find(e->name), e);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(c[j].name, e->name);
        if (e->sha256)
            ck_assert_msg(is_hex(e->sha256, 64), "%s sha256", e->name);
        if (e->git_blob)
            ck_assert_msg(is_hex(e->git_blob, 40), "%s git blob", e->name);
        /* a file in a git repository is pinned to a commit, never a branch */
        if (strstr(e->url, "raw.githubusercontent.com")) {
            ck_assert_ptr_nonnull(e->git_blob);
            const char *p = e->url + strlen("https://raw.githubusercontent.com/");
            p = strchr(p, '/');
            ck_assert_ptr_nonnull(p);
            p = strchr(p + 1, '/');
            ck_assert_ptr_nonnull(p);
            char commit[41];
            snprintf(commit, sizeof commit, "%s", p + 1);
            ck_assert_msg(is_hex(commit, 40), "%s: URL not at a commit: %s", e->name, e->url);
        }
    }
    /* the paths scenarios name map to their entries */
    ck_assert_str_eq(trace_catalog_by_path("mooncake-fast25/conversation_trace.jsonl")->name,
                     "mooncake-conversation");
    ck_assert_str_eq(trace_catalog_by_path("azure-llm-2023/AzureLLMInferenceTrace_conv.csv")->name,
                     "azure-2023-conv");
    ck_assert_str_eq(trace_catalog_by_path("conversation_trace.jsonl")->name,
                     "mooncake-conversation");
    ck_assert_ptr_null(trace_catalog_by_path("mine/trace.jsonl"));
}
END_TEST

/* The directory of MEMFAB_TRACE_PATH that holds rel, or NULL. */
static const char *trace_dir_with(const char *rel, char *buf, size_t n)
{
    const char *env = getenv("MEMFAB_TRACE_PATH");
    while (env && *env) {
        size_t l = strcspn(env, ":");
        char path[1024];
        snprintf(path, sizeof path, "%.*s/%s", (int)l, env, rel);
        if (access(path, R_OK) == 0) {
            snprintf(buf, n, "%.*s", (int)l, env);
            return buf;
        }
        env += l;
        if (*env == ':')
            env++;
    }
    return NULL;
}

#define FETCH "env -u MEMFAB_TRACE_MIRROR XDG_CACHE_HOME='%s/cache' '%s' trace fetch"

START_TEST(fetch_from_a_mirror_verifies_and_caches)
{
    char dir[1024];
    if (!trace_dir_with("mooncake-fast25/conversation_trace.jsonl", dir, sizeof dir)) {
        printf("skipped: fetch_from_a_mirror_verifies_and_caches (no Mooncake trace in "
               "MEMFAB_TRACE_PATH)\n");
        return;
    }
    ck_assert_int_eq(fx_sh(FETCH " mooncake-conversation --mirror 'file://%s'", fx_dir, fx_bin,
                           dir),
                     0);
    ck_assert_msg(strstr(fx_out, "verified") && strstr(fx_out, "Apache-2.0") &&
                      strstr(fx_out, "FAST 2025"),
                  "%.300s", fx_out);
    ck_assert_int_eq(fx_sh("cmp cache/memfab/traces/mooncake-fast25/conversation_trace.jsonl "
                           "'%s/mooncake-fast25/conversation_trace.jsonl'",
                           dir),
                     0);
    ck_assert_int_eq(fx_sh("ls -a cache/memfab/traces/mooncake-fast25 | grep -c part"), 1);
    /* cached and verified: no second download */
    ck_assert_int_eq(fx_sh(FETCH " mooncake-conversation --mirror file:///nonexistent", fx_dir,
                           fx_bin),
                     0);
    ck_assert_msg(strstr(fx_out, "already cached and verified"), "%.300s", fx_out);
    /* a scenario naming the trace finds it in the cache with no MEMFAB_TRACE_PATH */
    ck_assert_int_eq(fx_sh("env -u MEMFAB_TRACE_PATH XDG_CACHE_HOME='%s/cache' '%s' check "
                           "'%s/scenarios/mooncake-conversation.yaml'",
                           fx_dir, fx_bin, fx_src),
                     0);
    /* a damaged cached copy is noticed and replaced */
    ck_assert_int_eq(fx_sh("printf x >> cache/memfab/traces/mooncake-fast25/conversation_trace.jsonl"), 0);
    ck_assert_int_eq(fx_sh(FETCH " mooncake-conversation --mirror 'file://%s'", fx_dir, fx_bin,
                           dir),
                     0);
    ck_assert_msg(strstr(fx_out, "does not verify"), "%.300s", fx_out);
    ck_assert_int_eq(fx_sh("cmp cache/memfab/traces/mooncake-fast25/conversation_trace.jsonl "
                           "'%s/mooncake-fast25/conversation_trace.jsonl'",
                           dir),
                     0);
}
END_TEST

START_TEST(fetch_refuses_what_does_not_verify)
{
    /* a mirror holding a file of the right name and the wrong content */
    ck_assert_int_eq(fx_sh("mkdir -p mirror/azure-llm-2023 && printf 'TIMESTAMP,ContextTokens,"
                           "GeneratedTokens\\n' > mirror/azure-llm-2023/"
                           "AzureLLMInferenceTrace_code.csv"),
                     0);
    ck_assert_int_eq(fx_sh(FETCH " azure-2023-code --mirror 'file://%s/mirror/'", fx_dir, fx_bin,
                           fx_dir),
                     1);
    ck_assert_msg(strstr(fx_out, "does not match its pinned hash") &&
                      strstr(fx_out, "nothing was installed"),
                  "%.300s", fx_out);
    ck_assert_int_eq(fx_sh("ls -A cache/memfab/traces/azure-llm-2023 | wc -l"), 0);
    ck_assert_msg(strncmp(fx_out, "0", 1) == 0, "left behind: %.300s", fx_out);
    /* a mirror without the file */
    ck_assert_int_eq(fx_sh(FETCH " azure-2023-conv --mirror 'file://%s/mirror'", fx_dir, fx_bin,
                           fx_dir),
                     1);
    ck_assert_int_eq(fx_sh("test -e cache/memfab/traces/azure-llm-2023/"
                           "AzureLLMInferenceTrace_conv.csv"),
                     1);
    /* an unknown name: usage error with a suggestion, before any download */
    ck_assert_int_eq(fx_sh(FETCH " mooncake-conversaton", fx_dir, fx_bin), 2);
    ck_assert_msg(strstr(fx_out, "did you mean 'mooncake-conversation'"), "%.300s", fx_out);
    /* a trace no hash pins needs consent */
    ck_assert_int_eq(fx_sh(FETCH " azure-2024-conv --mirror 'file://%s/mirror'", fx_dir, fx_bin,
                           fx_dir),
                     2);
    ck_assert_msg(strstr(fx_out, "--accept-unpinned"), "%.300s", fx_out);
    /* an unsupported URL scheme */
    ck_assert_int_eq(fx_sh(FETCH " azure-2023-conv --mirror ftp://example.org", fx_dir, fx_bin),
                     2);
}
END_TEST

START_TEST(fetch_accepts_an_unpinned_trace_when_asked)
{
    ck_assert_int_eq(fx_sh("mkdir -p mirror/azure-llm-2024 && printf 'TIMESTAMP,ContextTokens,"
                           "GeneratedTokens\\n2024-05-10 00:00:00.009930+00:00,10,5\\n' > "
                           "mirror/azure-llm-2024/AzureLLMInferenceTrace_conv_1week.csv"),
                     0);
    ck_assert_int_eq(fx_sh(FETCH " azure-2024-conv --accept-unpinned --mirror 'file://%s/mirror'",
                           fx_dir, fx_bin, fx_dir),
                     0);
    ck_assert_msg(strstr(fx_out, "UNPINNED") && strstr(fx_out, "sha256 "), "%.300s", fx_out);
    ck_assert_int_eq(fx_sh("cmp mirror/azure-llm-2024/AzureLLMInferenceTrace_conv_1week.csv "
                           "cache/memfab/traces/azure-llm-2024/AzureLLMInferenceTrace_conv_1week.csv"),
                     0);
    /* --list marks it cached */
    ck_assert_int_eq(fx_sh(FETCH " --list | grep '^azure-2024-conv'", fx_dir, fx_bin), 0);
    ck_assert_msg(strstr(fx_out, " yes "), "%.300s", fx_out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tracefetch");
    TCase *digest = tcase_create("digest");
    TCase *catalog = tcase_create("catalog");
    TCase *fetch = tcase_create("fetch");
    tcase_set_timeout(fetch, 60);
    tcase_add_checked_fixture(fetch, fx_setup, fx_teardown);
    tcase_add_test(digest, sha256_fips_vectors);
    tcase_add_test(digest, sha1_fips_vectors_and_git_blob_ids);
    tcase_add_test(catalog, catalog_entries_are_complete_and_pinned);
    tcase_add_test(fetch, fetch_from_a_mirror_verifies_and_caches);
    tcase_add_test(fetch, fetch_refuses_what_does_not_verify);
    tcase_add_test(fetch, fetch_accepts_an_unpinned_trace_when_asked);
    suite_add_tcase(s, digest);
    suite_add_tcase(s, catalog);
    suite_add_tcase(s, fetch);
    return s;
}

int main(void)
{
    return check_main(suite());
}
