// Which sources this bundle was built from: js/build.mjs defines __SOURCES_SHA256__ as the
// hash it also writes in the bundle's header (tests/test_bundle.py recomputes it).

/* global __SOURCES_SHA256__ */
export const SOURCES_SHA256 = __SOURCES_SHA256__;
