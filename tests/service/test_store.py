"""service.store on its own: the SQLite connection and the recognition of storage faults."""

import sqlite3
import uuid

import pytest


def test_a_broken_connection_is_replaced_on_the_next_call(tmp_path):
    from service.store import Store

    store = Store(tmp_path)
    fit_id = str(uuid.uuid4())
    store.insert(fit_id, "succeeded", "map", {}, [], 0)
    store.db.close()  # what a read-only episode leaves: a connection that always fails
    with pytest.raises(sqlite3.Error):
        store.get(fit_id)
    assert store.get(fit_id)["id"] == fit_id
    store.progress(fit_id, 3)
    assert store.get(fit_id)["draws_done"] == 3


def test_storage_faults_are_recognised():
    import errno

    from service.store import storage_error

    assert storage_error(OSError(errno.ENOSPC, "No space left on device")).full
    assert not storage_error(OSError(errno.EROFS, "Read-only file system")).full
    assert storage_error(sqlite3.OperationalError("database or disk is full")).full
    assert not storage_error(sqlite3.OperationalError("attempt to write a readonly database")).full
    assert storage_error(ValueError("x")) is None
    assert storage_error(OSError(errno.ENOENT, "No such file")) is None
