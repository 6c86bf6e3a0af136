/*
 * bad_abi.c - the example plug-in built as if against interface version
 * 999: memfab must refuse to load it, naming the file and both versions.
 */
#define EXAMPLE_ABI 999
#include "example_policy.c"
