"""`bounded_groups`, which the plan settles inputs with and the load reads processed batches by."""

from pipeline.groups import bounded_groups


def test_a_group_closes_with_the_item_that_reaches_the_weight_or_the_count():
    assert list(bounded_groups([3, 4, 1, 1, 1, 1], int, max_weight=7, max_count=3)) == [[3, 4], [1, 1, 1], [1]]


def test_an_item_over_the_limit_closes_its_group_at_once_and_nothing_is_lost():
    items = [1, 50, 2, 2]
    groups = list(bounded_groups(items, int, max_weight=10))
    assert groups == [[1, 50], [2, 2]]
    assert [item for group in groups for item in group] == items
    assert list(bounded_groups([], int, max_weight=10)) == []
