"""Which epoch a telemetry message belongs to: retries, restarts, boots and absurd jumps."""

from __future__ import annotations

from onecity.core.devices.epochs import Epoch, Stored, place

V = (("fill", 0.5),)
JUMP = 1000


def _run(
    msgs: list[tuple[int | None, int, int, tuple[tuple[str, float], ...]]],
    epochs: dict[int, Epoch] | None = None,
    stored: dict[int, list[Stored]] | None = None,
) -> tuple[list[int], dict[int, Epoch], int, int, int]:
    eps = {} if epochs is None else epochs
    p = place(msgs, eps, {} if stored is None else stored, JUMP)
    return p.placed, eps, p.duplicates, p.restarts, p.conflicts


def test_a_fresh_device_counts_in_epoch_zero_and_repeats_are_duplicates() -> None:
    placed, eps, dups, restarts, conflicts = _run(
        [(None, 1, 100, V), (None, 2, 200, V), (None, 1, 100, V)]
    )
    assert placed == [0, 0, -1] and (dups, restarts, conflicts) == (1, 0, 0)
    assert (eps[0].min_seq, eps[0].max_seq, eps[0].received) == (1, 2, 2)


def test_a_reused_seq_with_another_time_is_a_restart() -> None:
    stored = {1: [Stored(0, None, 100, dict(V))]}
    eps = {0: Epoch(0, None, 1, 50, 50, old_span=50)}
    placed, eps, dups, restarts, conflicts = _run(
        [(None, 1, 9000, V), (None, 2, 9100, V), (None, 1, 100, V)], eps, stored
    )
    # The reboot's 1 and 2 go to epoch 1; the old 1 resent is still a duplicate.
    assert placed == [1, 1, -1] and (dups, restarts, conflicts) == (1, 1, 1)
    assert eps[1].new and (eps[1].min_seq, eps[1].max_seq) == (1, 2)


def test_a_resend_with_more_keys_is_the_same_message_but_other_values_are_not() -> None:
    stored = {5: [Stored(0, None, 100, {"fill": 0.5})]}
    eps = {0: Epoch(0, None, 5, 5, 1, old_span=1)}
    more = (("fill", 0.5), ("temp", 20.0))
    assert _run([(None, 5, 100, more)], eps, stored)[2] == 1
    other = (("fill", 0.6),)
    placed, _, dups, restarts, conflicts = _run([(None, 5, 100, other)], eps, stored)
    assert placed == [1] and (dups, restarts, conflicts) == (0, 1, 1)


def test_boots_keep_epochs_apart_even_with_equal_messages() -> None:
    placed, eps, dups, restarts, conflicts = _run(
        [(7, 1, 100, V), (8, 1, 100, V), (7, 2, 101, V), (8, 2, 102, V), (7, 1, 100, V)]
    )
    assert placed == [0, 1, 0, 1, -1] and (dups, restarts, conflicts) == (1, 1, 0)
    assert (eps[0].boot, eps[1].boot) == (7, 8)


def test_a_far_jump_opens_an_epoch_and_later_messages_go_back() -> None:
    eps = {0: Epoch(0, None, 1, 3, 3, old_span=3)}
    placed, eps, _, restarts, conflicts = _run(
        [(None, 2**63 - 1, 100, V), (None, 4, 101, V), (None, 5, 102, V)], eps
    )
    assert placed == [1, 0, 0] and (restarts, conflicts) == (1, 0)
    assert (eps[0].max_seq, eps[1].span) == (5, 1)
    # Gaps, summed per epoch: none.
    assert sum(e.span - e.received for e in eps.values()) == 0


def test_a_resend_into_a_dropped_epoch_is_a_duplicate_whatever_its_boot() -> None:
    # Epoch 3 is no longer kept, so its boot is unknown: time and values decide.
    stored = {40: [Stored(3, None, 100, dict(V), boot_known=False)]}
    eps = {20: Epoch(20, 7, 900_000, 900_000, 1, old_span=1)}
    placed, _, dups, restarts, _ = _run([(7, 40, 100, V)], eps, stored)
    assert placed == [-1] and (dups, restarts) == (1, 0)
