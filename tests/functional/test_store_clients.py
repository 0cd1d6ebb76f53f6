"""The stores' clients are made once, at cold start, from one botocore session: the records of
a batch run on many threads (timeline.record_batches), and none of them makes its own."""

from __future__ import annotations

import threading


def connections():
    from timeline.store import tables

    models = [tables.UserModel, tables.HandleClaimModel, tables.TweetModel, tables.EdgeModel,
              tables.TimelineEntryModel, tables.MediaModel, tables.RateLimitModel]
    return [m._get_connection().connection for m in models]


def test_given_the_stores_built_then_every_model_has_its_client_from_one_shared_session(h):
    from timeline.store.aws import build_stores

    # Given a cold start (the stores built on this thread)
    build_stores(h.settings)
    # Then every model's connection already holds its client, all made by one botocore session
    made = connections()
    assert all(c._client is not None for c in made)
    sessions = {id(c._local.session) for c in made}
    assert len(sessions) == 1


def test_given_records_on_other_threads_when_they_read_then_they_share_the_clients_and_make_no_session(h):
    from timeline.store.aws import build_stores
    from timeline.store.tables import TimelineEntryModel

    build_stores(h.settings)
    before = {id(c): c._client for c in connections()}
    made_sessions = []

    def record():
        list(TimelineEntryModel.query(1, limit=1))  # a read, as a fan-out record makes
        made_sessions.extend(getattr(c._local, "session", None) for c in connections())

    # When eight threads read at once
    threads = [threading.Thread(target=record) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then they used the clients made at cold start, and none made a session of its own
    assert {id(c): c._client for c in connections()} == before
    assert made_sessions == [None] * len(made_sessions)
