"""kaudio's progress indicator: redrawn in place on a terminal, plain lines otherwise."""
import io

from kaudio import progress
from kaudio.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_off_a_terminal(monkeypatch):
    clock = iter([0.0, 5.0, 11.0, 11.0, 12.0, 30.0])  # start, add, add (+ its line), add, close
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = Progress(100, "embedding", "window", stream=stream)
    bar.add(10)   # 5 s: too soon for a line
    bar.add(40)   # 11 s: a line
    bar.add(50)   # 12 s: too soon
    bar.close()   # always a final line
    bar.close()   # once
    assert stream.getvalue().splitlines() == ["embedding: 50/100 windows (50%), 11.0 s",
                                              "embedding: 100/100 windows (100%), 30.0 s"]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_redrawn_in_place_on_a_terminal():
    stream = Terminal()
    with Progress(None, "downloading w.h5.gz", stream=stream, formatter=lambda n: f"{n / 1e6:.1f} MB") as bar:
        bar.update(2_500_000)
    text = stream.getvalue()
    assert text.startswith("\rdownloading w.h5.gz: 2.5 MB") and text.endswith("\n") and text.count("\n") == 1
