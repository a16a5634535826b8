"""What differs between object stores when remote.py reads a video from them in ranges.

remote.py reads every store through fsspec the same way; three things are each store's own:

- **Bounded waits** (:func:`bounded_options`): a connect and a read timeout where the user set
  none (aiohttp's for HTTP and Google Cloud Storage, botocore's for S3), and short client
  retries, since remote.py retries transient failures itself.
- **A ranged read pinned to the version a stat saw** (:func:`pinned_read`): S3 reads carry the
  ETag as ``If-Match`` (s3fs does it), Google Cloud Storage reads name the object's generation,
  Azure Blob reads carry the ETag as ``If-Match``. So a block is never the next version's bytes
  filed under the old version's key: the store refuses (HTTP 412, or 404 for a generation that
  is gone) and remote.py says the object changed.
- **The HTTP status inside each client's exceptions** (:func:`status_of`): botocore's response,
  gcsfs's ``HttpError`` code and its bare ``OSError("Forbidden: ...")``, azure-core's
  ``status_code``, aiohttp's ``status``, and the same on an exception's cause (s3fs and fsspec
  wrap the client's error in a built-in one).
"""

from __future__ import annotations

from typing import Any

# The Azure SDK's retries within one attempt of ours (ExponentialRetry's public settings; its
# defaults wait 15 s, 18 s and 24 s, give or take 3, before 3 retries).
AZURE_RETRY = {"total_retries": 1, "initial_backoff": 0.5, "increment_base": 2, "random_jitter_range": 0.5}
# gcsfs tries a GCS request that failed in a way that may pass 6 times itself (pausing about 1,
# 2, 4, 8 and 16 s; a class attribute, not an option): remote.py adds no attempts of its own.
GCSFS_TRIES = 6


def store_of(url: str) -> str:
    """``"s3"``, ``"gcs"``, ``"azure"``, ``"http"`` or ``""`` (another fsspec protocol)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("s3", "s3a"):
        return "s3"
    if scheme in ("gs", "gcs"):
        return "gcs"
    if scheme in ("az", "abfs", "abfss", "adl"):
        return "azure"
    if scheme in ("http", "https"):
        return "http"
    return ""


def attempts(url: str, ours: int) -> tuple[int, int]:
    """(attempts remote.py makes, attempts in all a failure stands for) when it would make
    ``ours``: one for GCS, whose client retries by itself."""
    if store_of(url) == "gcs":
        return 1, GCSFS_TRIES
    return ours, ours


def tune_filesystem(fs: Any) -> None:
    """Hold an Azure filesystem's own retries to :data:`AZURE_RETRY`: adlfs hands the SDK no
    options, and its default retries a 5xx for about a minute (within each attempt of ours)."""
    policy = getattr(getattr(getattr(fs, "service_client", None), "_config", None), "retry_policy", None)
    for name, value in AZURE_RETRY.items():
        if hasattr(policy, name):
            setattr(policy, name, value)


def bounded_options(url: str, options: dict[str, Any], connect: float, read: float) -> dict[str, Any]:
    """``options`` with a ``connect`` and a ``read`` timeout (seconds) where the user set none."""
    options = dict(options)
    store = store_of(url)
    if store == "http":
        import aiohttp

        client = dict(options.get("client_kwargs") or {})
        client.setdefault("timeout", aiohttp.ClientTimeout(sock_connect=connect, sock_read=read))
        options["client_kwargs"] = client
    elif store == "gcs":
        import aiohttp

        # gcsfs hands requests_timeout to every request (None there means no limit at all).
        options.setdefault("requests_timeout", aiohttp.ClientTimeout(sock_connect=connect, sock_read=read))
    elif store == "s3":
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("connect_timeout", connect)
        config.setdefault("read_timeout", read)
        config.setdefault("retries", {"max_attempts": 2, "mode": "standard"})
        # Presigned URLs (delivery="redirect") in Signature Version 4: botocore would sign some in
        # version 2, which buckets made since 2020 refuse.
        config.setdefault("signature_version", "s3v4")
        options["config_kwargs"] = config
    elif store == "azure":
        options.setdefault("skip_instance_cache", True)  # its retries are tuned: not the user's instance
    return options


def pinned_read(file: Any, start: int, stop: int, connect: float, read: float) -> bytes:
    """Bytes [start, stop) of the version of the object that ``file`` (an fsspec file opened
    for reading) was opened on; the store refuses if that version is no longer the object's."""
    package = type(file).__module__.split(".", 1)[0]
    if package == "gcsfs":
        return _gcs_read(file, start, stop)
    if package == "adlfs":
        return _azure_read(file, start, stop, connect, read)
    data: bytes = file._fetch_range(start, stop)  # s3fs sends If-Match itself; HTTP cannot
    return data


def _gcs_read(file: Any, start: int, stop: int) -> bytes:
    # GCSFile._fetch_range asks for the live object, whatever its generation: name it.
    generation = file.details.get("generation")
    data: bytes = file.fs.cat_file(file.path, start=start, end=stop, generation=generation, concurrency=1)
    return data


def _azure_read(file: Any, start: int, stop: int, connect: float, read: float) -> bytes:
    from azure.core import MatchConditions
    from fsspec.asyn import sync

    etag = file.details.get("etag")
    conditions: dict[str, Any] = {}
    if etag:
        conditions = {"etag": etag, "match_condition": MatchConditions.IfNotModified}

    async def download() -> bytes:
        async with file.container_client:
            stream = await file.container_client.download_blob(
                blob=file.blob,
                offset=start,
                length=stop - start,
                version_id=file.version_id,
                max_concurrency=1,
                connection_timeout=connect,
                read_timeout=read,
                **conditions,
            )
            data: bytes = await stream.readall()
            return data

    data: bytes = sync(file.loop, download)
    return data


def status_of(error: BaseException, depth: int = 0) -> int | None:
    """The HTTP status a store answered with, found in ``error`` or its causes; None if none."""
    for name in ("status", "code", "status_code"):
        value = getattr(error, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # botocore
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(value, int):
            return value
    if type(error) is OSError and str(error).startswith("Forbidden:"):
        return 403  # gcsfs raises a bare OSError for GCS's 403
    cause = error.__cause__
    if cause is not None and depth < 4:
        return status_of(cause, depth + 1)
    return None
