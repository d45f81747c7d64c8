"""The chain tests of tests/api/test_chains.py, on one node on PostgreSQL: there a parent's result
writes its followers' slots in the statement that records it, and a claim takes them like due slots."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.test_chain_model import test_random_changes_answer_as_the_model_says  # noqa: F401
from tests.api.test_chains import (  # noqa: F401 - collected here again, on the node below
    failing_sink,
    test_a_chain_runs_hop_by_hop,
    test_a_cycle_is_a_400_naming_it,
    test_a_deleted_follower_leaves_its_parent_and_the_other_followers_alone,
    test_a_disabled_follower_records_its_triggers_as_skipped,
    test_a_follower_checks_its_own_response_assertions,
    test_a_follower_keeps_its_own_overlap_policy,
    test_a_follower_paused_by_its_failures_records_its_next_triggers_as_skipped,
    test_a_follower_retries_by_its_own_policy,
    test_a_follower_runs_after_each_successful_run_with_its_parents_run_id,
    test_a_parent_that_does_not_exist_is_a_400_naming_it,
    test_a_run_by_hand_triggers_the_followers,
    test_after_fails_and_after_finishes_follow_the_parents_outcome,
    test_changing_the_parent_never_touches_the_relation,
    test_deleting_a_followed_job_is_a_409_naming_the_followers,
    test_every_parent_run_triggers_its_follower_once,
    test_get_job_lists_the_parent_and_the_followers,
)
from tests.helpers import start_server, test_config
from veggiecron.app import Server


@pytest.fixture
async def server(postgres_url: str) -> AsyncIterator[Server]:
    """One node on PostgreSQL in place of the SQLite daemon the api and user_api fixtures use."""
    server = await start_server(test_config("unused.db", database=postgres_url))
    yield server
    await server.stop()
