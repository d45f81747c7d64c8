"""The several-nodes tests match slots read from the database with slots read from requests."""

from __future__ import annotations

from tests.e2e.cluster import slot_key


def test_a_slot_on_half_a_millisecond_is_one_key_from_either_source() -> None:
    # Seen in a kill test: a job's missed record, due_at as PostgreSQL stored the float, and the
    # same slot as whole microseconds from an Idempotency-Key. To the millisecond they differ.
    stored, sent = 1796506696.6534998, 1796506696653500 / 1_000_000
    assert round(stored, 3) != round(sent, 3)
    assert slot_key(stored) == slot_key(sent)
    # Slots a microsecond apart stay apart.
    assert slot_key(sent) != slot_key(sent + 0.000001)
