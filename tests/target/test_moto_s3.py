"""The S3 every test module gets (``tests.conftest.moto_s3``) starts empty, whatever a module
before it wrote: moto keeps buckets per process, and one xdist worker runs many modules (issue
#29: the flow test met test_delta's Account tables, keyed by Id alone, in its lake)."""

from __future__ import annotations

import boto3

from tests.conftest import moto_s3

KEYS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
}


def test_given_a_bucket_left_by_an_earlier_server_then_the_next_server_is_empty() -> None:
    with moto_s3() as earlier:
        client = boto3.client("s3", endpoint_url=earlier, **KEYS)
        client.create_bucket(Bucket="lake")
        client.put_object(Bucket="lake", Key="mirror/_tombstones/Account/x", Body=b"1")
    with moto_s3() as later:
        assert boto3.client("s3", endpoint_url=later, **KEYS).list_buckets()["Buckets"] == []
