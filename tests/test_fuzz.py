"""Property-based requests against a live server: never a 5xx, every body byte-exact."""

import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_rangevideo import url_for
from jupyter_rangevideo.ranges import http_date

SIZE = 2**20 + 7  # the data_file fixture
FUZZ = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
tried = {"headers": 0, "paths": 0}

numbers = st.one_of(
    st.integers(0, SIZE + 10), st.integers(0, 10**30), st.sampled_from([0, 1, SIZE - 1, SIZE])
)
range_spec = st.one_of(
    st.builds("{}-{}".format, numbers, numbers),
    st.builds("{}-".format, numbers),
    st.builds("-{}".format, numbers),
    st.text(alphabet="0123456789-, =", max_size=12),
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
range_header = st.one_of(
    st.builds(
        lambda specs, sep: "bytes=" + sep.join(specs),
        st.lists(range_spec, max_size=20),
        st.sampled_from([",", ", "]),
    ),
    st.builds("{}={}".format, st.sampled_from(["bytes", "BYTES", "items", ""]), header_text),
    header_text,
)


def validators(etag):
    return st.one_of(
        st.just(etag),
        st.just(f"W/{etag}"),
        st.just('"other"'),
        st.just("*"),
        header_text,
        st.builds(http_date, st.integers(0, 2**32)),
    )


def check_body(response, data):
    code = response.code
    assert code < 500, code
    length = int(response.headers.get("Content-Length", len(response.body)))
    assert length == len(response.body)
    if code == 200:
        assert response.body == data
    elif code == 206:
        content_type = response.headers["Content-Type"]
        if content_type.startswith("multipart/byteranges"):
            boundary = content_type.split("boundary=")[1]
            parts = response.body.split(f"\r\n--{boundary}".encode())
            assert parts[0] == b"" and parts[-1] == b"--\r\n"
            for part in parts[1:-1]:
                head, _, payload = part.partition(b"\r\n\r\n")
                start, stop = map(int, re.search(rb"bytes (\d+)-(\d+)/%d" % SIZE, head).groups())
                assert payload == data[start : stop + 1]
        else:
            start, stop = map(
                int, re.fullmatch(rf"bytes (\d+)-(\d+)/{SIZE}", response.headers["Content-Range"]).groups()
            )
            assert response.body == data[start : stop + 1]
    elif code == 416:
        assert response.headers["Content-Range"] == f"bytes */{SIZE}"
        assert response.body == b""
    else:
        assert code in (304, 412), code
        assert response.body == b""


def test_fuzz_conditional_and_range_headers(fetch, data_file, jp_asyncio_loop):
    data = data_file.read_bytes()
    url = url_for(data_file)
    etag = jp_asyncio_loop.run_until_complete(fetch(url, method="HEAD")).headers["ETag"]

    @FUZZ
    @given(
        range_header=st.one_of(st.none(), range_header),
        if_range=st.one_of(st.none(), validators(etag)),
        if_none_match=st.one_of(st.none(), validators(etag)),
        if_modified_since=st.one_of(st.none(), header_text, st.builds(http_date, st.integers(0, 2**32))),
        method=st.sampled_from(["GET", "HEAD"]),
    )
    def check(range_header, if_range, if_none_match, if_modified_since, method):
        headers = {
            name: value
            for name, value in [
                ("Range", range_header),
                ("If-Range", if_range),
                ("If-None-Match", if_none_match),
                ("If-Modified-Since", if_modified_since),
            ]
            if value is not None
        }
        response = jp_asyncio_loop.run_until_complete(fetch(url, method=method, headers=headers))
        tried["headers"] += 1
        if method == "HEAD":
            assert response.code < 500 and response.body == b""
        else:
            check_body(response, data)

    check()
    print(f"\nfuzzed {tried['headers']} header combinations: no 5xx, every body byte-exact")


def test_fuzz_url_paths(fetch, data_file, jp_asyncio_loop):
    url = url_for(data_file)
    signature = url.split("/")[2]
    segment = st.one_of(
        st.text(max_size=30).map(lambda s: quote(s, safe="")),
        st.sampled_from(["..", "%2e%2e", "%252e%252e", ".", "%00", "etc/passwd", "", "%2F", "~", "\\"]),
    )

    @FUZZ
    @given(
        sig=st.one_of(st.just(signature), st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)),
        segments=st.lists(segment, min_size=1, max_size=8),
    )
    def check(sig, segments):
        path = f"rangevideo/files/{sig}/" + "/".join(segments)
        response = jp_asyncio_loop.run_until_complete(fetch(path, headers={"Range": "bytes=0-15"}))
        tried["paths"] += 1
        assert 300 <= response.code < 500, (path, response.code)  # 3xx: the trailing-slash redirect
        assert data_file.read_bytes()[:16] not in response.body

    check()
    print(f"\nfuzzed {tried['paths']} URL paths: every one refused (3xx or 4xx), no byte served")
