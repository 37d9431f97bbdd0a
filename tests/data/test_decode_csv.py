"""decode_csv against the outputs and errors of tf.io.decode_csv (fixtures/expected.json)."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

import data
from tf_fixtures import expected, value

_DTYPES = {"int32": torch.int32, "int64": torch.int64, "float32": torch.float32,
           "float64": torch.float64}


def _defaults(case):
    """TF's record_defaults of the case, in our API's terms."""
    out = []
    for d in case["defaults"]:
        if d == []:
            out.append([])
        elif d["dtype"] == "string":
            out.append([d["value"][0]] if d["value"] else [])
        elif d["shape"] == [] or d["value"] == []:
            out.append(torch.tensor(d["value"], dtype=_DTYPES[d["dtype"]]))
        else:
            out.append(torch.tensor(d["value"], dtype=_DTYPES[d["dtype"]]))
    return out


CASES = expected()["csv"]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["records"])[:40] for c in CASES])
def test_decode_csv_equals_tf(case):
    args = (case["records"], _defaults(case))
    if case.get("error"):
        with pytest.raises(ValueError) as info:
            data.io.decode_csv(*args, **case["kwargs"])
        tf_core = case["message"].split("}} ")[-1].split(" [Op:")[0]
        assert tf_core in str(info.value), (str(info.value), tf_core)
        return
    result = data.io.decode_csv(*args, **case["kwargs"])
    assert len(result) == len(case["result"])
    for ours, theirs in zip(result, case["result"]):
        if theirs["dtype"] == "string":
            assert ours == [v.encode("latin-1").decode() for v in theirs["value"]]
        else:
            want = value(theirs)
            assert ours.dtype == want.dtype and torch.equal(ours, want), (ours, want)


def test_python_ints_become_int32_as_in_tf():
    (col,) = data.io.decode_csv(["5"], [[0]])
    assert col.dtype == torch.int32


def test_scalar_record_gives_scalars_and_str():
    number, text = data.io.decode_csv("3,abc", [[0.0], [""]])
    assert number.shape == () and float(number) == 3.0 and text == "abc"


def test_required_field_missing_names_record():
    with pytest.raises(ValueError, match="Field 1 is required but missing in record 1"):
        data.io.decode_csv(["1,2", "3,"], [[0], []])


def test_bad_arguments():
    with pytest.raises(ValueError, match="field_delim"):
        data.io.decode_csv(["a"], [[""]], field_delim="||")
    with pytest.raises(ValueError, match="strictly increasing"):
        data.io.decode_csv(["a,b"], [[""], [""]], select_cols=[1, 0])
    with pytest.raises(ValueError, match="2 record_defaults for 1 select_cols"):
        data.io.decode_csv(["a,b"], [[""], [""]], select_cols=[1])
    with pytest.raises(TypeError, match="record_defaults\\[0\\]"):
        data.io.decode_csv(["a"], [[object()]])


def test_decode_csv_in_a_text_pipeline(tmp_path):
    (tmp_path / "iris.csv").write_text("5.1,3.5,0\n4.9,3.0,1\n")

    def parse(line):
        *features, label = data.io.decode_csv(line, [[0.0], [0.0], [0]])
        return torch.stack(features), label

    batches = list(data.TextLineDataset(str(tmp_path / "iris.csv")).map(parse).batch(2))
    features, labels = batches[0]
    assert features.tolist() == [[5.099999904632568, 3.5], [4.900000095367432, 3.0]]
    assert labels.tolist() == [0, 1] and labels.dtype == torch.int32


_field = st.text(alphabet=st.sampled_from(list('ab,"x 1')), max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(_field, min_size=1, max_size=5))
def test_quoted_fields_round_trip(fields):
    record = ",".join('"' + f.replace('"', '""') + '"' for f in fields)
    assert data.io.decode_csv([record], [[""]] * len(fields)) == [[f or ""] for f in fields]
