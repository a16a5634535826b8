"""Each store client's own exceptions, as remote.py words them (pure: the clients' real
exception types, raised the way the clients raise them, no server)."""

import errno

import pytest

from jupyter_rangevideo import remote
from jupyter_rangevideo.remote import ObjectChanged, RemoteError
from jupyter_rangevideo.store_reads import bounded_options, status_of, store_of


def test_gcsfs_refusals_and_absences():
    from gcsfs.retry import HttpError, validate_response

    with pytest.raises(OSError) as refused:
        validate_response(403, b'{"error": {"message": "no access"}}', "b/x.mp4")
    forbidden = refused.value
    assert type(forbidden) is OSError and status_of(forbidden) == 403
    error = remote._plain_error("gs://b/x.mp4", forbidden)
    assert isinstance(error, PermissionError) and "no access" in str(error)
    with pytest.raises(FileNotFoundError) as missing:
        validate_response(404, b"", "b/x.mp4")
    assert isinstance(remote._plain_error("gs://b/x.mp4", missing.value), FileNotFoundError)
    expired = HttpError({"code": 401, "message": "Invalid Credentials"})
    assert isinstance(remote._plain_error("gs://b/x.mp4", expired), PermissionError)
    busy = HttpError({"code": 503, "message": "Backend Error"})
    assert remote._transient(busy)
    assert isinstance(remote._plain_error("gs://b/x.mp4", busy), RemoteError)


def test_azure_refusals_absences_and_changes():
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    def failed(kind, status):
        error = kind(message=f"status {status}")
        error.status_code = status
        return error

    refused = remote._plain_error("az://c/x.mp4", failed(ClientAuthenticationError, 403))
    assert isinstance(refused, PermissionError)
    assert isinstance(
        remote._plain_error("az://c/x.mp4", failed(ResourceNotFoundError, 404)), FileNotFoundError
    )
    changed = remote._plain_error("az://c/x.mp4", failed(ResourceModifiedError, 412))
    assert isinstance(changed, ObjectChanged)
    assert remote._transient(ServiceRequestError("connection refused"))


def test_a_wrapped_clients_status_is_found_on_the_cause():
    """s3fs turns botocore's 412 (If-Match refused) into OSError(EINVAL) raised from it."""
    from botocore.exceptions import ClientError

    boto = ClientError(
        {"Error": {"Code": "PreconditionFailed"}, "ResponseMetadata": {"HTTPStatusCode": 412}}, "GetObject"
    )
    wrapped = OSError(errno.EINVAL, "At least one of the pre-conditions you specified did not hold")
    wrapped.__cause__ = boto
    assert status_of(wrapped) == 412
    assert isinstance(remote._plain_error("s3://b/x.mp4", wrapped), ObjectChanged)


@pytest.mark.parametrize(
    ("url", "store"),
    [("s3://b/k", "s3"), ("gs://b/k", "gcs"), ("gcs://b/k", "gcs"), ("az://c/k", "azure"),
     ("abfs://c/k", "azure"), ("https://h/k", "http"), ("hf://x", "")],
)  # fmt: skip
def test_store_of(url, store):
    assert store_of(url) == store


def test_bounded_options_keep_the_users_own():
    gcs = bounded_options("gs://b/k", {"token": "anon"}, 10, 30)
    assert gcs["token"] == "anon" and gcs["requests_timeout"].sock_read == 30
    assert bounded_options("gs://b/k", {"requests_timeout": 5}, 10, 30)["requests_timeout"] == 5
    s3 = bounded_options("s3://b/k", {"config_kwargs": {"read_timeout": 3}}, 10, 30)
    assert s3["config_kwargs"]["read_timeout"] == 3 and s3["config_kwargs"]["connect_timeout"] == 10
    azure = bounded_options("az://c/k", {"account_name": "a"}, 10, 30)
    assert azure == {"account_name": "a", "skip_instance_cache": True}  # its own instance: retries tuned
