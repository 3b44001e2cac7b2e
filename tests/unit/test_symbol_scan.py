"""One rule turns scanned keys into symbols, for every worker that scans (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tradingstack_workers.runtime.symbol_scan import symbols_in
from tradingstack_workers.wire import is_symbol

PREFIX = "quantum:position:snapshot:"

suffixes = st.one_of(
    st.from_regex(r"[A-Z0-9]{2,30}", fullmatch=True),
    st.sampled_from(["BTCUSDT\n", "bad key", "btcusdt", "B", "ETH\x00USDT", "\udcff"]),
    st.text(max_size=8),
)


def test_a_key_scan_returned_twice_is_one_symbol_read_once() -> None:
    """SCAN may return a key more than once (while the keyspace rehashes); reading its
    symbol twice would record two points for it in one cycle."""
    found = [f"{PREFIX}ETHUSDT", f"{PREFIX}BTCUSDT", f"{PREFIX}ETHUSDT", f"{PREFIX}bad key"]
    scanned = symbols_in(found, PREFIX)
    assert (scanned.symbols, scanned.rejected) == (["BTCUSDT", "ETHUSDT"], ["bad key"])
    assert scanned.only({"ETHUSDT"}) == ["ETHUSDT"]
    assert scanned.only(()) == ["BTCUSDT", "ETHUSDT"]
    assert symbols_in([], PREFIX).symbols == []


def test_a_newline_ended_suffix_is_no_symbol() -> None:
    """``re.match`` lets a pattern's ``$`` match before a final newline: ``BTCUSDT\\n``
    was a symbol of its own, its own key suffix and metric label beside ``BTCUSDT``."""
    assert not is_symbol("BTCUSDT\n")
    scanned = symbols_in([f"{PREFIX}BTCUSDT\n", f"{PREFIX}BTCUSDT"], PREFIX)
    assert (scanned.symbols, scanned.rejected) == (["BTCUSDT"], ["BTCUSDT\n"])


@given(st.lists(suffixes, max_size=20))
def test_every_suffix_is_a_symbol_once_or_rejected(found: list[str]) -> None:
    scanned = symbols_in([PREFIX + s for s in found], PREFIX)
    assert scanned.symbols == sorted({s for s in found if is_symbol(s)})
    assert scanned.rejected == [s for s in found if not is_symbol(s)]
    assert all(s.isascii() and s.isalnum() and s == s.upper() for s in scanned.symbols)
