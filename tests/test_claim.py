"""Claims on run folders (kaudio.claim)."""
import os

from kaudio.claim import Claim


def test_claims_are_exclusive_until_their_process_ends(tmp_path):
    claim = Claim(tmp_path / "run")
    assert claim.acquire() and claim.acquire()  # this process may take its own claim again
    (tmp_path / "run" / ".claim").write_text(str(os.getppid()))  # a live other process
    assert not claim.acquire()
    (tmp_path / "run" / ".claim").write_text("999999999")  # no such process: the claim is stale
    assert claim.acquire() and claim.holder() == os.getpid()
    claim.release()
    assert claim.holder() is None
