"""Prompt templates (files, errors naming file and line) and the prompts built from a tree."""

from pathlib import Path

import pytest

from workstation.core import build
from workstation.core.prompts import (
    Prompt,
    TemplateError,
    assistant_prefix,
    builtin_templates_dir,
    challenge_prompt,
    continue_after_prompt,
    generate_prompt,
    load_template,
    load_templates,
    regenerate_prompt,
)
from workstation.errors import BadInputError

GOOD = '''name = "mine"
version = "2"
description = "d"
system = "Be careful."
user = "Q: {question}"
guidance = "Reviewer on step {step_number} ({step}): {critique}"
'''


@pytest.fixture(scope="module")
def templates():
    return load_templates(builtin_templates_dir())


def _write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_templates_cover_the_task_families(templates):
    assert set(templates) == {"chain-of-thought", "why", "ethical-scenario", "code-debugging", "content-moderation"}
    assert templates["why"].kind == "challenge"
    for t in templates.values():
        assert t.version and t.description and "{" in t.user and "{critique}" in t.guidance
        assert t.path.endswith(".toml")


def test_a_good_template_loads(tmp_path):
    t = load_template(_write(tmp_path, GOOD))
    assert (t.name, t.version, t.kind, t.system) == ("mine", "2", "task", "Be careful.")
    assert t.user_message("2+2?") == "Q: 2+2?"


def test_integer_versions_are_accepted(tmp_path):
    assert load_template(_write(tmp_path, GOOD.replace('"2"', "2"))).version == "2"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (GOOD.replace('description = "d"', 'description = "d'), "TOML syntax error", 3),
        (GOOD.replace('system = "Be careful."\n', ""), "missing field 'system'", None),
        (GOOD + 'sytem = "x"\n', "unknown field 'sytem'", 7),
        (GOOD.replace('user = "Q: {question}"', 'user = "Q: {questoin}"'), "unknown placeholder {questoin}", 5),
        (GOOD.replace('user = "Q: {question}"', 'user = "Q"'), "must contain {question}", 5),
        (GOOD.replace('user = "Q: {question}"', 'user = "Q: {question} {"'), "literal braces", 5),
        (GOOD.replace("{critique}", "x"), "must contain {critique}", 6),
        (GOOD.replace('version = "2"', "version = [2]"), "'version' must be a string", 2),
        (GOOD.replace('name = "mine"', 'name = "my template!"'), "the name may use only", 1),
        (GOOD + 'kind = "other"\n', "kind must be one of", 7),
        (GOOD.replace('description = "d"', 'description = "  "'), "must not be empty", 3),
    ],
)
def test_bad_templates_name_file_and_line(tmp_path, text, message, line):
    path = _write(tmp_path, text)
    with pytest.raises(TemplateError, match=message) as info:
        load_template(path)
    assert isinstance(info.value, BadInputError)
    assert info.value.path == path and info.value.line == line
    assert str(path) in str(info.value)
    if line:
        assert f"line {line}" in str(info.value)


def test_unreadable_templates(tmp_path):
    with pytest.raises(TemplateError, match="cannot be read"):
        load_template(tmp_path / "missing.toml")
    path = tmp_path / "latin.toml"
    path.write_bytes(b'name = "\xe9"\n')
    with pytest.raises(TemplateError, match="not UTF-8"):
        load_template(path)


def test_later_folders_override_and_errors_can_be_collected(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    _write(user, GOOD.replace('"mine"', '"chain-of-thought"'), "cot.toml")
    _write(user, "broken = ", "broken.toml")
    with pytest.raises(TemplateError):
        load_templates(builtin_templates_dir(), user)
    errors: list[TemplateError] = []
    merged = load_templates(builtin_templates_dir(), user, tmp_path / "absent", errors=errors)
    assert merged["chain-of-thought"].version == "2" and "why" in merged
    assert [e.path.name for e in errors] == ["broken.toml"]


def test_generate_prompt(templates):
    prompt = generate_prompt(templates["chain-of-thought"], "What is 2+2?")
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.messages[1]["content"] == "What is 2+2?" and prompt.assistant_prefix == ""
    assert (prompt.template_name, prompt.template_version) == ("chain-of-thought", "1")
    assert prompt.to_dict()["messages"] == prompt.chat()
    with pytest.raises(BadInputError, match="challenge template"):
        generate_prompt(templates["why"], "x")


def test_no_system_message_when_the_template_has_none(tmp_path):
    t = load_template(_write(tmp_path, GOOD.replace('"Be careful."', '""')))
    assert [m["role"] for m in generate_prompt(t, "q").messages] == ["user"]


def test_regenerate_prompt_continues_from_the_earlier_steps(sample, templates):
    s1, s2, answer = sample.steps()
    cot = templates["chain-of-thought"]
    first = regenerate_prompt(cot, sample.tree, s1.id)
    assert first.assistant_prefix == ""
    assert first.messages == generate_prompt(cot, sample.tree.session.question).messages
    raw = sample.tree.chain(s1.chain_id).raw_text
    third = regenerate_prompt(cot, sample.tree, answer.id)
    # The exact raw text of steps 1..k-1, so the engine's cache matches the earlier run.
    assert third.assistant_prefix == raw[: raw.index("Answer")]
    assert third.assistant_pieces == ("Step 1: 12 * 4 = 46\n\n", "Step 2: Then add 2 to get 48.\n\n")
    assert first.assistant_pieces == ()
    assert build.regenerate_parent(sample.tree, answer.id) == s2.id


def test_regenerate_with_a_critique_keeps_the_prompt_start(sample, templates):
    s1, s2, _ = sample.steps()
    cot = templates["chain-of-thought"]
    plain = regenerate_prompt(cot, sample.tree, s2.id)
    steered = regenerate_prompt(cot, sample.tree, s2.id, critique="You used 46; 12 * 4 is 48.")
    assert steered.messages[0] == plain.messages[0]
    user = steered.messages[1]["content"]
    assert user.startswith(plain.messages[1]["content"])
    assert "step 2" in user and "You used 46; 12 * 4 is 48." in user and s2.text in user
    assert steered.assistant_prefix == plain.assistant_prefix == "Step 1: 12 * 4 = 46\n\n"


def test_rewrites_enter_the_prefix_with_the_original_layout(sample, templates, alice):
    s1, s2, _ = sample.steps()
    sample.do(build.rewrite(sample.tree, s1.id, "Step 1: 12 * 4 = 48", alice))
    prompt = regenerate_prompt(templates["chain-of-thought"], sample.tree, s2.id)
    assert prompt.assistant_prefix == "Step 1: 12 * 4 = 48\n\n"
    after = continue_after_prompt(templates["chain-of-thought"], sample.tree, s1.id)
    assert after.assistant_prefix == "Step 1: 12 * 4 = 48\n\n"
    with pytest.raises(BadInputError):
        continue_after_prompt(templates["chain-of-thought"], sample.tree, sample.steps()[-1].id)


def test_continuing_after_the_question_is_the_first_generation(sample, templates):
    cot = templates["chain-of-thought"]
    after = continue_after_prompt(cot, sample.tree, sample.tree.question_id)
    assert after.to_dict() == generate_prompt(cot, sample.tree.session.question).to_dict()
    steered = continue_after_prompt(cot, sample.tree, sample.tree.question_id, critique="mind the units")
    assert steered.assistant_prefix == "" and "mind the units" in str(steered.to_dict())


def test_prefix_of_think_steps_keeps_the_tags(sample, alice):
    raw = "<think>\nHmm.\n\nSo 48.\n</think>\n\nAnswer: 48"
    sample.generate(sample.tree.question_id, raw)
    steps = sample.tree.shown_path()[1:]
    sample.do(build.rewrite(sample.tree, steps[1].id, "So 50.", alice))
    assert assistant_prefix(steps[:1]) == "<think>\nHmm.\n\n"
    assert assistant_prefix(sample.tree.shown_path()[1:3]) == "<think>\nHmm.\n\nSo 50.\n</think>\n\n"


def test_challenge_prompt_has_steps_up_to_k_and_no_replies(sample, templates, alice):
    s1, s2, answer = sample.steps()
    asked = build.ask_challenge(sample.tree, s1.id, "Why 46?", alice)
    sample.do(asked)
    sample.do(build.challenge_answered(sample.tree, asked.node.id, "SECRET REPLY", alice, "why", "1"))
    cot, why = templates["chain-of-thought"], templates["why"]
    prompt = challenge_prompt(cot, why, sample.tree, s2.id, "Where does 48 come from?")
    assert [m["role"] for m in prompt.messages] == ["system", "user", "assistant", "user"]
    assert prompt.messages[1]["content"] == sample.tree.session.question
    assert prompt.messages[2]["content"] == "Step 1: 12 * 4 = 46\n\nStep 2: Then add 2 to get 48."
    assert "Where does 48 come from?" in prompt.messages[3]["content"] and "step 2" in prompt.messages[3]["content"]
    assert (prompt.template_name, prompt.assistant_prefix) == ("why", "")
    everything = [
        challenge_prompt(cot, why, sample.tree, s1.id, "again?"),
        regenerate_prompt(cot, sample.tree, answer.id, critique="x"),
        continue_after_prompt(cot, sample.tree, s2.id),
    ]
    for p in everything:
        assert "SECRET REPLY" not in str(p.to_dict()) and "Why 46?" not in str(p.to_dict())
    with pytest.raises(BadInputError):
        challenge_prompt(cot, why, sample.tree, s1.id, " ")
    with pytest.raises(BadInputError):
        challenge_prompt(cot, why, sample.tree, asked.node.id, "why?")
    with pytest.raises(BadInputError):
        challenge_prompt(why, why, sample.tree, s1.id, "why?")


def test_prompt_is_a_plain_value():
    prompt = Prompt(({"role": "user", "content": "x"},), "pre", "n", "1")
    chat = prompt.chat()
    chat[0]["content"] = "changed"
    assert prompt.messages[0]["content"] == "x"
