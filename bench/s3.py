"""moto's S3 server for `scripts/bench --storage s3`: one in-memory S3 endpoint on a free loopback
port for the run, a bucket per server under test, stopped at the end. Both servers reach it with the
standard AWS settings, so they are measured against the same bucket service."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid

import requests

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


class S3:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        binary = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(self.endpoint, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("moto_server did not start")
        # Every server the driver starts inherits these (MLflow's boto3 reads MLFLOW_S3_ENDPOINT_URL too).
        os.environ.update(CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ["MLFLOW_S3_ENDPOINT_URL"] = self.endpoint

    def new_bucket(self, label: str) -> str:
        """Creates a bucket and answers `s3://bucket/label`."""
        import boto3

        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(Bucket=name)
        return f"s3://{name}/{label}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
