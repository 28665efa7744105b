"""What can be checked is checked before anything is written (issue 24, fault 9): a busy --live
port, a data folder that is not there, an unknown dataset, a device this machine has not, a study
too deep for its images, a class of one's own data named with an escape sequence (fault 8's
sibling), each stops `reglab run` with exit 2 and leaves no run directory."""

from __future__ import annotations

import socket

from reglab.cli import main

DEEP_CNN = """
name = "deep"
seeds = 1
[data]
dataset = "digits"
[defaults]
model = "cnn"
conv = [{ filters = 4, pool = 2 }, { filters = 4, pool = 2 }, { filters = 4, pool = 2 }, { filters = 4, pool = 2 }]
epochs = 1
[[variants]]
name = "a"
"""


def _cases(tmp_path, busy_port):
    (tmp_path / "deep.toml").write_text(DEEP_CNN, encoding="utf-8")
    rows = ["a,b,label"] + [f"{i % 7},{i % 5},{('red', 'green', chr(27) + '[31mblue')[i % 3]}" for i in range(90)]
    (tmp_path / "escapes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    quick = ["--seeds", "1", "--epochs", "1"]
    cases = {
        "--live on a busy port": ["tutorial", "--dataset", "digits", *quick, "--live", "--no-browser",
                                  "--port", str(busy_port)],
        "--data-dir that does not exist": ["tutorial", "--dataset", "mnist", *quick, "--data-dir",
                                           str(tmp_path / "nowhere")],
        "an unknown dataset": ["tutorial", "--dataset", "fashion", *quick],
        "--address without --backend ray": ["tutorial", "--dataset", "digits", *quick, "--address", "x:1"],
        "a CNN too deep for 8x8 images": [str(tmp_path / "deep.toml")],
        "a class of one's own table named with an escape sequence": [
            "tutorial", "--data", str(tmp_path / "escapes.csv"), "--target", "label", *quick],
    }
    import torch

    if not torch.cuda.is_available():
        cases["--device cuda without a GPU"] = ["tutorial", "--dataset", "digits", *quick, "--device", "cuda"]
    return cases


class _NoEstimate:
    def describe(self) -> str:
        return ""


def test_early_errors_leave_no_run_directory(tmp_path, monkeypatch, capsys, fault_log):
    import reglab.lab

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(reglab.lab, "plan", lambda *args, **kwargs: _NoEstimate())  # its seconds are not tested here
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cases = _cases(tmp_path, taken.getsockname()[1])
        for what, args in cases.items():
            out = tmp_path / "out"
            code = main(["run", *args, "--out", str(out), "--no-report"])
            err = capsys.readouterr().err
            assert code == 2 and "Traceback" not in err, (what, err)
            assert "\x1b" not in err, (what, err)  # an escape sequence is shown as text, never sent to the terminal
            assert not out.exists() and not (tmp_path / "runs").exists(), what
    fault_log(f"early errors of `reglab run` ({', '.join(cases)})", len(cases),
              "exit 2 before anything is written: no run directory")


def test_a_busy_live_port_is_refused_before_the_estimate(tmp_path, monkeypatch, capsys):
    import reglab.lab

    def no_estimate(*args, **kwargs):
        raise AssertionError("the time estimate ran before the port was checked")

    monkeypatch.setattr(reglab.lab, "plan", no_estimate)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["run", "tutorial", "--dataset", "digits", "--live", "--no-browser",
                     "--port", str(taken.getsockname()[1]), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot serve the live page" in err and "Fix:" in err
    assert not (tmp_path / "out").exists()
