"""The data model: validation and the dict round trip every stored object goes through."""

import json

import pytest

from workstation.core.model import (
    DEFAULT_TAGS,
    Annotation,
    Chain,
    Flag,
    Node,
    Reviewer,
    SchemaError,
    Session,
    TagVocabulary,
    Version,
    now_iso,
)
from workstation.errors import BadInputError


def _version(**kw):
    fields = dict(id="v1", node_id="n1", text="t", raw="t\n\n", origin="model", author="alice",
                  role="annotator", created_at=now_iso(), flags=(Flag("arithmetic", "m", 0, 1),),
                  mean_logprob=-0.5, min_token_prob=0.2, token_count=3)
    fields.update(kw)
    return Version(**fields)


def _roundtrip(obj):
    data = json.loads(json.dumps(obj.to_dict()))
    again = type(obj).from_dict(data)
    assert again == obj
    return data


def test_every_record_round_trips_through_json():
    v = _version()
    node = Node("n1", "s", "step", "q", "c", 1, (v,), "v1")
    _roundtrip(Flag("python_syntax", "bad", 3, 9, "info"))
    _roundtrip(v)
    data = _roundtrip(node)
    assert data["versions"][0]["flags"][0]["check"] == "arithmetic"
    _roundtrip(Chain("c", "s", "q", "generate", "raw", "sp", "1", "cot", "1", "alice", "annotator",
                     now_iso(), ("n1",), critique="no", model="m.gguf", finish_reason="stop"))
    _roundtrip(Annotation("a", "s", "n1", "v1", "bob", "expert", now_iso(), -1, "note", ("x", "y"), "major"))
    _roundtrip(Session("s", "title", "q?", "cot", "1", now_iso(), "alice", "annotator"))
    _roundtrip(Reviewer("bob", "ethics_reviewer", "Bob"))
    _roundtrip(TagVocabulary())


def test_from_dict_names_a_missing_field():
    data = _version().to_dict()
    del data["text"]
    with pytest.raises(SchemaError, match="Version: missing field 'text'"):
        Version.from_dict(data)


def test_from_dict_ignores_fields_added_by_newer_versions():
    data = _version().to_dict()
    data["future_field"] = 1
    assert Version.from_dict(data) == _version(created_at=data["created_at"])


def test_from_dict_rejects_non_objects():
    with pytest.raises(SchemaError):
        Flag.from_dict([1, 2])
    with pytest.raises(SchemaError):
        Node.from_dict({**Node("n", "s", "step", None, None, 1, (_version(node_id="n"),), "v1").to_dict(),
                        "versions": "nope"})


@pytest.mark.parametrize("label", [2, -2, True, "1", 0.5])
def test_labels_outside_minus_one_to_one_are_refused(label):
    with pytest.raises(BadInputError, match="label"):
        Annotation("a", "s", "n", "v", "bob", "annotator", now_iso(), label)


def test_annotation_checks_role_severity_tags():
    with pytest.raises(BadInputError, match="role"):
        Annotation("a", "s", "n", "v", "bob", "boss", now_iso(), 1)
    with pytest.raises(BadInputError, match="severity"):
        Annotation("a", "s", "n", "v", "bob", "expert", now_iso(), 1, severity="huge")
    with pytest.raises(BadInputError, match="tags"):
        Annotation("a", "s", "n", "v", "bob", "expert", now_iso(), 1, tags=(" ",))


def test_node_needs_its_current_version():
    with pytest.raises(BadInputError):
        Node("n", "s", "step", None, None, 1, (_version(),), "other")
    with pytest.raises(BadInputError):
        Node("n", "s", "step", None, None, 1, (), "v1")
    with pytest.raises(BadInputError, match="kind"):
        Node("n", "s", "thought", None, None, 1, (_version(),), "v1")


def test_node_versions():
    v1, v2 = _version(), _version(id="v2", origin="rewrite", text="new")
    node = Node("n1", "s", "step", "q", "c", 1, (v1, v2), "v2")
    assert node.current == v2 and node.original == v1 and node.text == "new"
    assert node.version("v1") == v1
    with pytest.raises(BadInputError):
        node.version("v3")


def test_reviewer_needs_id_and_known_role():
    with pytest.raises(BadInputError):
        Reviewer("")
    with pytest.raises(BadInputError, match="ethics_reviewer"):
        Reviewer("x", "ethics reviewer")


def test_flag_span_and_severity():
    with pytest.raises(BadInputError):
        Flag("c", "m", 5, 2)
    with pytest.raises(BadInputError):
        Flag("c", "m", 0, 1, "fatal")


def test_tag_vocabulary_is_editable():
    vocab = TagVocabulary()
    assert vocab.tags == DEFAULT_TAGS and "unsafe" in vocab.tags
    more = vocab.with_tag("  off by one ")
    assert more.tags[-1] == "off by one" and more.with_tag("off by one") is more
    assert "unsafe" not in more.without_tag("unsafe").tags
    with pytest.raises(BadInputError):
        vocab.with_tag(" ")
