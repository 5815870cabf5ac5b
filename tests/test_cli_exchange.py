"""The team round trip of issue 7 through the command line, as new users would do it.

Reviewers A and B work in separate homes (separate databases and keys), label the same chain
differently and exchange signed bundles; a lead imports both, sees both labels, the disagreement
queue and the agreement figures, adjudicates, and exports files that load with `datasets`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workstation.cli import main

pytestmark = pytest.mark.model


class Person:
    """One reviewer's own home folder; runs CLI commands as them."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.monkeypatch, self.capsys = home, monkeypatch, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.monkeypatch.setenv("WORKSTATION_HOME", str(self.home))
        status = main(list(args))
        out, err = self.capsys.readouterr()
        return status, out, err

    def json(self, *args: str) -> object:
        status, out, err = self(*args, "--json")
        assert status == 0, err
        return json.loads(out)


def test_team_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WORKSTATION_KEY_PASSPHRASE", "correct horse battery staple")
    alice, bob, lead = (Person(tmp_path / name, monkeypatch, capsys) for name in ("alice", "bob", "lead"))
    made = alice.json("generate", "--prompt", "What is 15% of 80?", "--max-tokens", "120", "--seed", "1",
                      "--threads", "2", "--reviewer", "alice")
    first, second = (n["id"] for n in made["nodes"][:2])
    assert alice("annotate", first, "--label", "1", "--reviewer", "alice")[0] == 0
    assert alice("annotate", second, "--label", "-1", "--reviewer", "alice", "--tag", "arithmetic error")[0] == 0
    assert alice("rewrite", second, "--text", "15% of 80 is 0.15 * 80 = 12.", "--reviewer", "alice")[0] == 0
    bundle_a = str(tmp_path / "alice.wsbundle")
    assert alice.json("export", "--format", "bundle", "--out", bundle_a, "--signer", "alice")["rows"] > 0
    alice_key = alice("keys", "show", "--signer", "alice")[1].strip()

    # Bob has never seen Alice's key: the bundle is refused, nothing imported, and he is told how to trust it.
    status, out, _ = bob("import", bundle_a)
    assert status == 2 and "not in your trusted keys" in out and "workstation keys trust" in out
    assert bob.json("sessions") == []
    assert bob("keys", "trust", alice_key)[0] == 0
    assert bob.json("import", bundle_a)["new_events"] > 0
    assert bob("annotate", first, "--label", "-1", "--reviewer", "bob")[0] == 0
    assert bob("annotate", second, "--label", "-1", "--reviewer", "bob")[0] == 0
    bundle_b = str(tmp_path / "bob.wsbundle")
    assert bob.json("export", "--format", "bundle", "--out", bundle_b, "--signer", "bob")["rows"] > 0

    # The lead imports both; importing again changes nothing.
    imported = lead.json("import", bundle_a, bundle_b, "--trust")
    assert imported["ok"] and imported["new_events"] > 0
    assert lead.json("import", bundle_a, bundle_b)["new_events"] == 0
    tree = lead.json("show", made["session_id"])
    labels = {(a["reviewer_id"], a["node_id"]): a["label"] for a in tree["annotations"]}
    assert labels[("alice", first)] == 1 and labels[("bob", first)] == -1  # side by side

    queue = lead.json("disagreements")
    assert [d["node_id"] for d in queue] == [first]
    stats = lead.json("stats")
    assert set(stats["reviewers"]) == {"alice", "bob"}
    assert stats["agreement"]["krippendorff_alpha_ordinal"] is not None

    # Only an expert or ethics reviewer adjudicates, with a reason.
    status, _, err = lead("adjudicate", first, "--label", "1", "--reason", "12 is right", "--reviewer", "carol")
    assert status == 2 and "only an expert or an ethics reviewer" in err
    assert lead("adjudicate", first, "--label", "1", "--reason", "15% of 80 is 12",
                "--reviewer", "carol", "--role", "expert")[0] == 0
    assert lead.json("disagreements") == []

    datasets = pytest.importorskip("datasets")
    stepwise, preference = tmp_path / "stepwise.jsonl", tmp_path / "preference.jsonl"
    assert lead.json("export", "--format", "trl-stepwise", "--out", str(stepwise))["rows"] == 1
    assert lead.json("export", "--format", "trl-preference", "--out", str(preference))["rows"] >= 1
    rows = datasets.load_dataset("json", data_files=str(stepwise), split="train")
    assert rows.column_names == ["prompt", "completions", "labels"]
    assert rows[0]["labels"][0] is True  # the adjudication wins over the split vote
    manifest = json.loads(Path(str(stepwise) + ".manifest.json").read_text())
    assert "neutral" in json.dumps(manifest)
    pref = datasets.load_dataset("json", data_files=str(preference), split="train")
    assert pref.column_names == ["prompt", "chosen", "rejected"]
    # The rewrite is chosen over the model's step; conversational by default (the model has a chat template).
    assert any(c[-1]["role"] == "assistant" and c[-1]["content"].rstrip().endswith("15% of 80 is 0.15 * 80 = 12.")
               for c in pref["chosen"])
    standard = tmp_path / "standard.jsonl"
    assert lead.json("export", "--format", "trl-preference", "--style", "standard", "--out", str(standard))["rows"] >= 1
    pref = datasets.load_dataset("json", data_files=str(standard), split="train")
    assert any(c.strip() == "15% of 80 is 0.15 * 80 = 12." for c in pref["chosen"])


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a pseudo-terminal")
def test_import_names_each_bundle_on_a_terminal_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, stderr names each bundle as it starts; redirected, it says nothing."""
    import io
    import os

    from workstation import cli_exchange

    bundles = [tmp_path / "a\x1b[31m.wsbundle", tmp_path / "b.wsbundle"]
    for path in bundles:
        path.write_bytes(b"not a bundle")
    db = str(tmp_path / "lead.duckdb")
    monkeypatch.setenv("WORKSTATION_HOME", str(tmp_path / "home"))

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert cli_exchange._import_progress() is None

    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8")
    monkeypatch.setattr("sys.stderr", terminal)
    assert main(["import", *map(str, bundles), "--db", db]) == 2  # both refused: not bundles
    terminal.flush()
    shown = os.read(master, 65536).decode("utf-8")
    terminal.close()
    os.close(master)
    assert "importing bundle 1 of 2: a\\x1b[31m.wsbundle" in shown  # the name printed inert
    assert "importing bundle 2 of 2: b.wsbundle" in shown and "\x1b[31m" not in shown
