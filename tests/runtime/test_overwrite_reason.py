"""The no_overwrite reason is read back by verify (the file's size when the policy decided): any recorded
text, imported logs included, reads as a path and a size only when it is exactly such a reason."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from agent_core.policy import overwrite_reason, overwritten_file

PATHS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(PATHS, st.integers(min_value=0, max_value=10**18 - 1))
@example('it\'s "quoted".md', 0)
@example(" exists (1 bytes); overwriting it needs a person's approval", 7)
def test_a_reason_reads_back_as_its_path_and_size(path: str, size: int) -> None:
    assert overwritten_file(overwrite_reason(path, size)) == (path, size)


LOOKALIKES = st.builds(
    lambda head, size: f"{head} exists ({size} bytes); overwriting it needs a person's approval",
    st.text(max_size=40) | st.builds(repr, PATHS),
    st.text(max_size=25) | st.integers().map(str),
)


@given(st.text(max_size=200) | LOOKALIKES)
@example("__import__('os') exists (1 bytes); overwriting it needs a person's approval")
@example("'a' 'b' exists (1 bytes); overwriting it needs a person's approval")
@example("'x' exists (" + "9" * 5000 + " bytes); overwriting it needs a person's approval")
def test_any_other_text_is_none_never_an_error(reason: str) -> None:
    found = overwritten_file(reason)
    assert found is None or overwrite_reason(*found) == reason


def test_a_size_the_policy_could_not_read_is_not_made_up() -> None:
    assert overwritten_file(overwrite_reason("odd", None)) is None  # "None bytes": nothing to rebuild
