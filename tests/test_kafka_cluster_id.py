"""The KRaft cluster id lablib makes in Python instead of a StorageTool JVM (Kafka's own format tool
accepting it is proven by every test that starts a fresh broker)."""

from __future__ import annotations

import base64

from lablib.services.kafka import cluster_uuid


def test_a_cluster_id_is_kafkas_uuid_text():
    ids = {cluster_uuid() for _ in range(2_000)}
    assert len(ids) == 2_000  # random, not a constant
    for text in ids:
        assert len(text) == 22 and "=" not in text
        assert not text.startswith("-"), text  # a command line would take it for an option
        raw = base64.urlsafe_b64decode(text + "==")
        assert len(raw) == 16 and int.from_bytes(raw, "big") > 1  # not Kafka's reserved zero or metadata id
